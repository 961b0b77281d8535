"""The reference stack of deploy/, driven the way a user drives it: through the real ``secure-up``.

Every call is the real CLI (``python -m secure_up`` of this interpreter) with the demo key given
as ``SECURE_UP_GPG_KEY_FILE``, the CI way: secure-up imports it into a throw-away keyring, so no
keyring of the user's is read. Compose files, project name, images and ports reach secure-up
(and through it Compose) as environment variables, as in the Makefile's demo; DBPASS never
passes through the test's own environment or an argv.

The stack runs on the host network (deploy/docker-compose.host-network.yaml), on free loopback
ports, under a project name of its own, so parallel runs and the demo don't collide.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from secure_up.launch.secret_values import SecretValues
from secure_up.launch.shellenv import parse_shell_env

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy"
COMPOSE_FILES = (
    DEPLOY_DIR / "docker-compose.yaml",
    DEPLOY_DIR / "docker-compose.host-network.yaml",
)
SECRETS_FILE = REPO_ROOT / "secrets" / "environment.secrets"
DEMO_KEY = DEPLOY_DIR / "demo" / "demo-key.asc"
STARTUP_TIMEOUT = 90.0
#: Variables of the caller's environment that would change what secure-up or Compose does.
_INHERITED_OVERRIDES = ("DBPASS", "GNUPGHOME", "SECURE_UP_", "COMPOSE_", "DOCKER_DEFAULT_PLATFORM")

T = TypeVar("T")


def free_port() -> int:
    """A loopback TCP port that nothing listens on now (the stack shares the host's ports)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def local_image_names() -> dict[str, str]:
    """The image names in deploy/local-images.env, which scripts/build-images.sh builds."""
    names = {}
    for line in (DEPLOY_DIR / "local-images.env").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            names[name] = value
    return names


def leaked(secrets: SecretValues, text: str) -> list[str]:
    """The names of the secrets whose value appears in text (names only: safe to print)."""
    return [name for name, value in secrets.items() if value in text]


@dataclass
class HttpReply:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


def http(url: str, payload: Mapping[str, str] | None = None) -> HttpReply:
    """GET url, or POST payload as JSON; an HTTP error status is a reply, not an exception."""
    data = json.dumps(payload).encode() if payload is not None else None
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 (http only)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return HttpReply(response.status, response.read().decode())
    except urllib.error.HTTPError as error:
        return HttpReply(error.code, error.read().decode())


def wait_for(condition: str, check: Callable[[], T | None], timeout: float = STARTUP_TIMEOUT) -> T:
    """Poll check() until it returns something; its last error explains a timeout."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except OSError as error:
            last_error = error
        else:
            if result is not None:
                return result
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {condition} ({last_error})")


@dataclass
class Stack:
    """One Compose project of the reference stack; every command goes through ``secure-up``."""

    project: str
    environment: dict[str, str]  # holds no secret: secure-up decrypts them for each command
    app_port: int

    @classmethod
    def create(cls) -> Stack:
        """A stack with a unique project name and free ports; nothing runs yet."""
        project = f"wordcount-test-{uuid.uuid4().hex[:8]}"
        ports = {name: str(free_port()) for name in ("POSTGRES_PORT", "REDIS_PORT", "APP_PORT")}
        environment = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(_INHERITED_OVERRIDES)
        }
        environment |= local_image_names() | ports
        environment |= {
            "SECURE_UP_GPG_KEY_FILE": str(DEMO_KEY),
            "COMPOSE_FILE": os.pathsep.join(str(path) for path in COMPOSE_FILES),
            "COMPOSE_PROJECT_NAME": project,
        }
        return cls(project=project, environment=environment, app_port=int(ports["APP_PORT"]))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    def secure_up(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """The real CLI, run from the repository root (its default secrets file lives there)."""
        result = subprocess.run(
            [sys.executable, "-m", "secure_up", *args],
            input=stdin,
            cwd=REPO_ROOT,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=STARTUP_TIMEOUT,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"secure-up {args[0]} exited {result.returncode}:\n{result.stderr}"
            )
        return result

    def start(
        self, secrets_file: Path | None = None, *, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """``secure-up app``: the whole stack, in dependency order; or with another secrets file."""
        if secrets_file is None:
            return self.secure_up("app", check=check)
        return self.secure_up("up", "--secrets", str(secrets_file), "app", check=check)

    def compose(
        self,
        *args: str,
        secrets_file: Path | None = None,
        mask: bool = True,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """``secure-up compose -- ARGS``; ``mask=False`` shows exactly what the child printed."""
        options = ["--secrets", str(secrets_file)] if secrets_file is not None else []
        if not mask:
            options.append("--no-mask")
        return self.secure_up("compose", *options, "--", *args, check=check)

    def logs(self, service: str, secrets_file: Path | None = None) -> str:
        return self.compose("logs", "--no-color", service, secrets_file=secrets_file).stdout

    def psql(self, sql: str) -> str:
        """Run sql in the database as the superuser, over the container's local socket."""
        return self.compose(
            "exec", "-T", "db", "psql", "--username=postgres", "--dbname=wordcount",
            "--no-psqlrc", "--tuples-only", "--no-align", "--command", sql,
        ).stdout.strip()  # fmt: skip

    def decrypted_secrets(self) -> SecretValues:
        """The values of the secrets file, for leak checks: ``secure-up decrypt``, parsed."""
        plaintext = self.secure_up("decrypt", str(SECRETS_FILE)).stdout
        return SecretValues(parse_shell_env(plaintext, str(SECRETS_FILE)))

    def leftovers(self) -> dict[str, list[str]]:
        """Containers and volumes of this project still known to the engine, by kind."""
        label = f"label=com.docker.compose.project={self.project}"
        listings = {"container": ["container", "ls", "--all"], "volume": ["volume", "ls"]}
        found = {}
        for kind, listing in listings.items():
            listed = subprocess.run(
                ["docker", *listing, "--quiet", "--filter", label],
                capture_output=True,
                text=True,
                check=True,
            )
            found[kind] = listed.stdout.split()
        return found

    def remove(self) -> None:
        """Take the stack down however the tests left it: ``down -v``, then force what is left."""
        self.compose("down", "--volumes", "--remove-orphans", check=False)
        left = self.leftovers()
        if left["container"]:
            subprocess.run(["docker", "rm", "--force", *left["container"]], check=False)
        if left["volume"]:
            subprocess.run(["docker", "volume", "rm", "--force", *left["volume"]], check=False)


@contextmanager
def serve_page(page: str) -> Iterator[str]:
    """The URL of a real HTTP server on loopback, in this process, serving page at every path."""
    body = page.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # the base class's names
            """Quiet: pytest shows what matters."""

    with ThreadingHTTPServer(("127.0.0.1", 0), Handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/page.html"
        finally:
            server.shutdown()
