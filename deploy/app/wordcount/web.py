"""The web app: a form that queues a URL, and a JSON API the page polls for the counts.

When the database refuses our login, every page says so (HTTP 503) and the log says it once at
start-up: a stack started with the wrong DBPASS must fail where people look.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

from wordcount import database
from wordcount.config import settings_name
from wordcount.jobs import count_words

log = logging.getLogger(__name__)

JOB_TIMEOUT_SECONDS = 60
MAX_URL_LENGTH = 2048


def create_app() -> Flask:
    """The Flask app, configured from APP_SETTINGS; logs whether the database login works."""
    app = Flask(__name__)
    app.config.from_object(settings_name())
    database.check_login(app.config["DATABASE_URL"])

    def queue() -> Queue:
        return Queue(app.config["QUEUE_NAME"], connection=Redis.from_url(app.config["REDIS_URL"]))

    def unavailable(message: str) -> tuple[Any, int]:
        log.error("%s", message)
        return jsonify(error=message), 503

    @app.get("/")
    def index() -> tuple[str, int]:
        try:
            database.current_user(app.config["DATABASE_URL"])
        except database.DatabaseUnavailable as error:
            log.error("%s", error)
            return render_template("index.html", error=str(error)), 503
        return render_template("index.html", error=None), 200

    @app.get("/healthz")
    def healthz() -> tuple[Any, int]:
        try:
            user = database.current_user(app.config["DATABASE_URL"])
        except database.DatabaseUnavailable as error:
            return unavailable(str(error))
        return jsonify(database="ok", user=user), 200

    @app.post("/jobs")
    def submit() -> tuple[Any, int]:
        url = (request.get_json(silent=True) or request.form).get("url", "").strip()
        if not url.startswith(("http://", "https://")) or len(url) > MAX_URL_LENGTH:
            return jsonify(error="give an http:// or https:// URL"), 400
        try:
            with database.transaction(app.config["DATABASE_URL"]) as cursor:
                cursor.execute("INSERT INTO results (url) VALUES (%s) RETURNING id", (url,))
                (result_id,) = cursor.fetchone()
            queue().enqueue(count_words, result_id, job_timeout=JOB_TIMEOUT_SECONDS)
        except database.DatabaseUnavailable as error:
            return unavailable(str(error))
        except RedisError as error:
            return unavailable(f"cannot queue the job in Redis: {error}")
        return jsonify(id=result_id, status="queued"), 202

    @app.get("/jobs/<int:result_id>")
    def result(result_id: int) -> tuple[Any, int]:
        try:
            with database.transaction(app.config["DATABASE_URL"]) as cursor:
                cursor.execute(
                    "SELECT url, status, error, word_counts, total_words FROM results "
                    "WHERE id = %s",
                    (result_id,),
                )
                row = cursor.fetchone()
        except database.DatabaseUnavailable as error:
            return unavailable(str(error))
        if row is None:
            return jsonify(error=f"no job {result_id}"), 404
        url, status, job_error, word_counts, total_words = row
        return jsonify(
            id=result_id,
            url=url,
            status=status,
            error=job_error,
            words=word_counts or [],
            total_words=total_words,
        ), 200

    return app


logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
app = create_app()
