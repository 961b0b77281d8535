// Submits the form as a job, then polls the job's JSON until the worker has counted the words.
"use strict";

const POLL_INTERVAL_MS = 500;
const form = document.getElementById("submit-form");
const statusLine = document.getElementById("status");
const table = document.getElementById("results");

function showWords(words) {
  const body = table.querySelector("tbody");
  body.replaceChildren(...words.map(([word, count]) => {
    const row = document.createElement("tr");
    for (const text of [word, String(count)]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    return row;
  }));
  table.hidden = words.length === 0;
}

async function poll(jobId) {
  const response = await fetch(`/jobs/${jobId}`);
  const job = await response.json();
  if (!response.ok) {
    statusLine.textContent = job.error;
  } else if (job.status === "finished") {
    statusLine.textContent = `${job.total_words} words in ${job.url}; the most frequent:`;
    showWords(job.words);
  } else if (job.status === "failed") {
    statusLine.textContent = job.error;
  } else {
    statusLine.textContent = `Counting (${job.status})…`;
    setTimeout(() => poll(jobId), POLL_INTERVAL_MS);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showWords([]);
  statusLine.textContent = "Queueing…";
  const response = await fetch(form.action, {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({url: form.elements.url.value}),
  });
  const job = await response.json();
  if (response.ok) {
    poll(job.id);
  } else {
    statusLine.textContent = job.error;
  }
});
