"""The reference stack in deploy/, brought up by the real ``secure-up app`` with the demo key.

What the README promises, end to end: ``secure-up app`` decrypts secrets/environment.secrets in
memory and starts the book's stack; the migrations ran; the app logs into PostgreSQL as
wordcount_dbadmin with the password from the encrypted file; a URL typed into the page in a real
headless Chromium comes back as word counts on the page; with a wrong DBPASS the stack fails
where people look and says why; ``secure-up compose -- down -v`` leaves nothing behind.

One stack per module (the fixture ``wordcount``; helpers in tests/docker/stack.py), used by the
tests in file order; the last test takes it down and the fixture removes whatever is left,
whatever happened.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from secure_up.launch.secret_values import SecretValues
from tests.conftest import require
from tests.docker.stack import (
    REPO_ROOT,
    SECRETS_FILE,
    Stack,
    http,
    leaked,
    serve_page,
    wait_for,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.docker, pytest.mark.gpg]

LOGIN_FAILED = (
    "cannot log into PostgreSQL as wordcount_dbadmin: password authentication failed"
    " — is DBPASS the one the database was created with?"
)
WRONG_DBPASS = "not-the-password-the-database-was-created-with"

# A page whose counts are known: scripts and styles are not text, stop words don't count.
PAGE = """<!doctype html><html><head><title>Fruit</title>
<style>.banana { color: yellow }</style><script>var cherry = "cherry cherry";</script></head>
<body><h1>Apples and pears</h1><p>An apple a day; the apple's core. Apple, PEAR, apple!</p>
<p>Pear pie.</p></body></html>"""
EXPECTED_COUNTS: list[tuple[str, int]] = [
    ("apple", 3),
    ("pear", 2),
    *((word, 1) for word in ("fruit", "apples", "pears", "day", "apple's", "core", "pie")),
]
EXPECTED_TOTAL_WORDS = 16

CHROMIUM = Path("/usr/bin/chromium")
# Headless, as root, and quiet on the network: no first-run, sync, update or QUIC traffic, and
# no host name resolves (the tests open 127.0.0.1 only).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
BROWSER_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def local_images() -> None:
    """A Docker engine with Compose v2 answers, and the local images are up to date."""
    if shutil.which("docker") is None:
        require("docker", "install it with scripts/ensure-docker.sh")
    for probe in (["docker", "info"], ["docker", "compose", "version"]):
        if subprocess.run(probe, capture_output=True, check=False).returncode != 0:
            require("docker", f"`{shlex.join(probe)}` fails: run scripts/ensure-docker.sh")
    built = subprocess.run(
        [str(REPO_ROOT / "scripts" / "build-images.sh")], capture_output=True, text=True
    )
    assert built.returncode == 0, f"scripts/build-images.sh failed:\n{built.stderr}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, driven by Playwright (which never downloads a browser of its own)."""
    if not CHROMIUM.exists():
        require("chromium", "run scripts/install-browser.sh")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require("playwright", "install the test extra: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def wordcount(local_images: None) -> Iterator[Stack]:
    """``secure-up app``: the whole stack, up and healthy; removed whatever the tests did."""
    stack = Stack.create()
    try:
        started = stack.start()
        assert started.returncode == 0, f"secure-up app failed:\n{started.stderr}"
        wait_until_healthy(stack)
        yield stack
    finally:
        stack.remove()


@pytest.fixture(scope="module")
def demo_secrets(wordcount: Stack) -> SecretValues:
    """The values of the committed secrets file (only to prove they leak nowhere)."""
    secrets = wordcount.decrypted_secrets()
    assert list(secrets) == ["DBPASS"]
    return secrets


@pytest.fixture(scope="module")
def wrong_secrets_file(wordcount: Stack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the secrets file with another DBPASS, written by ``secure-up set`` (stdin)."""
    copy = tmp_path_factory.mktemp("wrong-secrets") / "environment.secrets"
    shutil.copyfile(SECRETS_FILE, copy)
    wordcount.secure_up("set", str(copy), "DBPASS", stdin=WRONG_DBPASS)
    return copy


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser page (its own context: no cookies or cache from other tests)."""
    page = browser.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    try:
        yield page
    finally:
        page.close()


@pytest.fixture
def page_server() -> Iterator[str]:
    with serve_page(PAGE) as url:
        yield url


def wait_until_healthy(stack: Stack) -> dict[str, str]:
    reply = wait_for("the app's /healthz", lambda: http(f"{stack.url}/healthz"))
    assert reply.status == 200, reply.body
    health: dict[str, str] = reply.json()
    return health


def service_states(stack: Stack) -> dict[str, tuple[str, int]]:
    """``secure-up compose -- ps --all``: each service's state and exit code."""
    listing = stack.compose("ps", "--all", "--format", "json").stdout
    containers = [json.loads(line) for line in listing.splitlines() if line.strip()]
    return {c["Service"]: (c["State"], c["ExitCode"]) for c in containers}


def test_check_finds_dbpass_in_the_secrets_file(wordcount: Stack) -> None:
    report = json.loads(wordcount.secure_up("check", "--json").stdout)
    assert report["ok"] is True
    sources = {variable["name"]: variable["source"] for variable in report["variables"]}
    assert sources["DBPASS"] == "secrets"


def test_compose_alone_refuses_to_start_without_dbpass(wordcount: Stack) -> None:
    """The book's command without the secrets: the compose file itself stops it."""
    refused = subprocess.run(
        ["docker", "compose", "up", "--detach", "app"],  # files and project: from the environment
        env=wordcount.environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0
    assert "DBPASS is not set - run through secure-up" in refused.stderr


def test_app_brings_up_every_service(wordcount: Stack) -> None:
    states = service_states(wordcount)
    assert states.pop("migrations") == ("exited", 0)
    assert states == dict.fromkeys(("app", "db", "redis", "worker"), ("running", 0))


def test_migrations_created_the_schema(wordcount: Stack) -> None:
    versions = wordcount.psql("SELECT version FROM schema_migrations ORDER BY version")
    assert versions.splitlines() == ["0001_create_results", "0002_add_total_words"]
    owner = wordcount.psql("SELECT tableowner FROM pg_tables WHERE tablename = 'results'")
    assert owner == "wordcount_dbadmin"


def test_app_logs_into_postgresql_as_wordcount_dbadmin(wordcount: Stack) -> None:
    # The app and the worker reach the database over TCP, where only the password lets them in.
    host_auth = wordcount.psql(
        "SELECT DISTINCT auth_method FROM pg_hba_file_rules WHERE type = 'host'"
    )
    assert host_auth == "scram-sha-256"
    assert wait_until_healthy(wordcount) == {"database": "ok", "user": "wordcount_dbadmin"}
    assert "logged into PostgreSQL as wordcount_dbadmin" in wordcount.logs("worker")


def test_submitted_url_yields_word_counts(wordcount: Stack, page_server: str) -> None:
    submitted = http(f"{wordcount.url}/jobs", {"url": page_server})
    assert submitted.status == 202, submitted.body
    job_url = f"{wordcount.url}/jobs/{submitted.json()['id']}"

    def finished() -> dict[str, Any] | None:
        job: dict[str, Any] = http(job_url).json()
        return job if job["status"] in {"finished", "failed"} else None

    job = wait_for("the worker to count the page", finished, timeout=30)
    assert job["error"] is None
    assert [tuple(pair) for pair in job["words"]] == EXPECTED_COUNTS
    assert job["total_words"] == EXPECTED_TOTAL_WORDS


def test_page_shows_word_counts_in_a_browser(
    wordcount: Stack, page: Page, page_server: str, tmp_path: Path
) -> None:
    opened = page.goto(wordcount.url)
    assert opened is not None
    assert opened.status == 200

    page.fill("#url", page_server)
    page.click("#submit-form button[type=submit]")
    page.wait_for_selector("#results:not([hidden]) tbody tr")

    rows = page.eval_on_selector_all(
        "#results tbody tr", "rows => rows.map(row => [...row.cells].map(cell => cell.innerText))"
    )
    assert rows == [[word, str(count)] for word, count in EXPECTED_COUNTS]
    status = page.inner_text("#status")
    assert status == f"{EXPECTED_TOTAL_WORDS} words in {page_server}; the most frequent:"
    page.screenshot(path=tmp_path / "word-counts.png", full_page=True)


def test_no_secret_in_any_log(wordcount: Stack, demo_secrets: SecretValues) -> None:
    # Unmasked: what the containers themselves printed, not secure-up's masked copy.
    logs = wordcount.compose("logs", "--no-color", mask=False).stdout
    assert "logged into PostgreSQL" in logs
    assert leaked(demo_secrets, logs) == []


def test_wrong_dbpass_fails_visibly(
    wordcount: Stack, page: Page, wrong_secrets_file: Path, tmp_path: Path
) -> None:
    # The whole stack: the migrations job cannot log in, so Compose stops before the app.
    refused = wordcount.start(wrong_secrets_file)
    assert refused.returncode != 0
    assert 'service "migrations" didn\'t complete successfully' in refused.stderr
    assert LOGIN_FAILED in wordcount.logs("migrations", wrong_secrets_file)

    # The app alone (as after a restart with the wrong secret): the page and the log say why.
    wordcount.compose("up", "--detach", "--no-deps", "app", secrets_file=wrong_secrets_file)
    wait_for("the app to answer", lambda: http(wordcount.url))
    opened = page.goto(wordcount.url)
    assert opened is not None
    assert opened.status == 503
    assert page.inner_text("#error") == LOGIN_FAILED
    assert page.is_disabled("#submit-form button[type=submit]")
    page.screenshot(path=tmp_path / "wrong-dbpass.png", full_page=True)
    app_logs = wordcount.compose("logs", "--no-color", "app", mask=False).stdout
    assert LOGIN_FAILED in app_logs
    assert WRONG_DBPASS not in app_logs

    # The right secret heals it.
    assert wordcount.start().returncode == 0
    assert wait_until_healthy(wordcount)["user"] == "wordcount_dbadmin"


def test_down_removes_containers_and_volume(wordcount: Stack) -> None:
    wordcount.compose("down", "-v")
    assert wordcount.leftovers() == {"container": [], "volume": []}
