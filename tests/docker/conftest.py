"""Fixtures for the end-to-end tests on a real Docker engine: engine, image, a small stack.

Everything runs on the host network (no bridge network is ever created), with a
busybox image imported from the machine's own ``/bin/busybox`` when it is absent,
so no registry is needed. Each test gets a compose project of its own, taken
down (``down -v``) whatever happens.

The stack is laid out the way ``secure-up app`` finds it with no option at all:
``compose.yaml`` in the working directory and ``secrets/environment.secrets``
(the book's binary sops file of ``export`` lines) beside it. Its one secret,
:data:`DBPASS`, holds what breaks naive quoting: spaces, ``$``, ``${...}``,
quotes of both kinds, backslashes and a backtick.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import GpgKeys, require

BUSYBOX_IMAGE = "local/busybox:1"
#: The programs the tests run inside the image.
BUSYBOX_APPLETS = ("sh", "cat", "env", "sleep", "printf", "echo", "true")
#: The compose commands the tests run against, by test id.
COMPOSE_COMMANDS = {"v2": ["docker", "compose"], "v1": ["docker-compose"]}

#: The secret: test data, so the tests may print it from a container to compare.
DBPASS = "p@ss w0rd $HOME ${DBUSER} 'single' \"double\" back\\slash `tick` end"
#: The connection string the service builds from it, as in the book.
DATABASE_URL = f"postgresql://wordcount_dbadmin:{DBPASS}@db:5432/wordcount"
#: What the service prints when it starts.
URL_LINE_PREFIX = "url="

COMPOSE_FILE = """\
services:
  app:
    image: {image}
    network_mode: host
    extra_hosts: ["db:127.0.0.1"]
    environment:
      DATABASE_URL: "postgresql://wordcount_dbadmin:${{DBPASS}}@db:5432/wordcount"
    command: ["sh", "-c", "printf '{prefix}%s\\\\n' \\"$$DATABASE_URL\\"; exec sleep 600"]
    stop_signal: SIGKILL
"""
#: The same service needing a variable that is set nowhere, and a second service using it.
MISSING_FILE = """\
services:
  app:
    image: {image}
    network_mode: host
    environment:
      DATABASE_URL: "postgresql://wordcount_dbadmin:${{DBPASS}}@db:5432/wordcount"
      OTHER_URL: "redis://${{OTHER:?OTHER is not set}}@redis"
    command: ["sleep", "600"]
  worker:
    image: {image}
    network_mode: host
    command: ["sh", "-c", "echo ${{OTHER:?OTHER is not set}}; exec sleep 600"]
"""


def docker(*args: str, check: bool = True, timeout: float = 60) -> str:
    """``docker ARGS``: its stdout as text."""
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result.stdout


def answers(argv: Sequence[str]) -> bool:
    """Whether ``argv`` runs and exits 0."""
    try:
        completed = subprocess.run(argv, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return completed.returncode == 0


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """A Docker engine answers (scripts/ensure-docker.sh starts one)."""
    if shutil.which("docker") is None or not answers(["docker", "info"]):
        require("a Docker engine", "run scripts/ensure-docker.sh (see ../shared/docker-here.md)")


@pytest.fixture(scope="session")
def busybox_image(docker_engine: None) -> str:
    """A tiny image with a shell, imported from /bin/busybox unless it exists already."""
    if answers(["docker", "image", "inspect", BUSYBOX_IMAGE]):
        return BUSYBOX_IMAGE
    busybox = shutil.which("busybox")
    if busybox is None:
        require("busybox", "install the Debian package busybox-static")
    assert busybox is not None
    with tempfile.TemporaryDirectory() as root:
        bin_dir = Path(root, "bin")
        bin_dir.mkdir()
        shutil.copy2(busybox, bin_dir / "busybox")
        for applet in BUSYBOX_APPLETS:
            (bin_dir / applet).symlink_to("busybox")
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            ["docker", "import", "--change", "ENV PATH=/bin", "-", BUSYBOX_IMAGE],
            stdin=tar.stdout,
            capture_output=True,
            check=True,
            timeout=120,
        )
        assert tar.wait() == 0
    return BUSYBOX_IMAGE


@pytest.fixture(params=list(COMPOSE_COMMANDS), scope="session")
def compose_command(request: pytest.FixtureRequest, docker_engine: None) -> list[str]:
    """Compose v2 (``docker compose``) and v1 (``docker-compose``), each in turn."""
    argv = COMPOSE_COMMANDS[request.param]
    if not answers([*argv, "version"]):
        require(" ".join(argv), "run scripts/ensure-docker.sh (see ../shared/docker-here.md)")
    return argv


@pytest.fixture(scope="session")
def stack_directory(
    gpg_keys: GpgKeys, busybox_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """compose.yaml, missing.yaml and secrets/environment.secrets (made by secure-up encrypt)."""
    directory = tmp_path_factory.mktemp("stack")
    (directory / "compose.yaml").write_text(
        COMPOSE_FILE.format(image=busybox_image, prefix=URL_LINE_PREFIX)
    )
    (directory / "missing.yaml").write_text(MISSING_FILE.format(image=busybox_image))
    secrets = directory / "secrets"
    secrets.mkdir()
    plaintext = secrets / "plain.secrets"
    plaintext.write_text(f"export DBPASS={shlex.quote(DBPASS)}\n")
    encrypt = ["encrypt", "--pgp", gpg_keys.fingerprints[0], str(plaintext)]
    encrypted = subprocess.run(
        [sys.executable, "-m", "secure_up", *encrypt],
        env=gpg_keys.env,
        cwd=directory,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    plaintext.unlink()
    (secrets / "environment.secrets").write_bytes(encrypted)
    return directory


@dataclass
class Stack:
    """One compose project of the test stack, run through secure-up or compose itself."""

    directory: Path
    project: str
    compose: list[str]
    keys: GpgKeys
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """Our environment with the test keyring, the project and the compose command.

        Nothing of ours that could fill a variable of the compose files is kept.
        Compose v2 is left for secure-up to find; v1 is named by SECURE_UP_COMPOSE.
        """
        kept = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("SECURE_UP_", "COMPOSE_"))
            and name not in ("DBPASS", "OTHER", "GITHUB_ACTIONS")
        }
        env = kept | {"GNUPGHOME": str(self.keys.home), "COMPOSE_PROJECT_NAME": self.project}
        if self.compose != COMPOSE_COMMANDS["v2"]:  # v2 is found the way a user's would be
            env["SECURE_UP_COMPOSE"] = shlex.join(self.compose)
        return env

    @property
    def compose_env(self) -> dict[str, str]:
        """For compose run directly: placeholder values, no secret."""
        return self.env | {"DBPASS": "placeholder", "OTHER": "placeholder"}

    def secure_up(
        self, *args: str, stdin: bytes = b"", timeout: float = 120
    ) -> subprocess.CompletedProcess[bytes]:
        """``secure-up ARGS`` in the stack's directory, to completion."""
        return subprocess.run(
            [sys.executable, "-m", "secure_up", *args],
            input=stdin,
            capture_output=True,
            cwd=self.directory,
            env=self.env,
            timeout=timeout,
            check=False,
        )

    def start_secure_up(self, *args: str) -> Background:
        """``secure-up ARGS`` in the background, its output collected as it comes."""
        return self._start([sys.executable, "-m", "secure_up", *args], self.env)

    def start_compose(self, *args: str) -> Background:
        """The compose command itself in the background, on compose.yaml."""
        argv = [*self.compose, "-f", str(self.directory / "compose.yaml"), *args]
        return self._start(argv, self.compose_env)

    def _start(self, argv: list[str], env: dict[str, str]) -> Background:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=self.directory,
            env=env,
            start_new_session=True,  # no terminal: signals reach only whom we send them to
        )
        self.started.append(process)
        return Background(process)

    def containers(self, service: str | None = None) -> list[str]:
        """Ids of the project's containers (of one service), running or not."""
        filters = [f"label=com.docker.compose.project={self.project}"]
        if service:
            filters.append(f"label=com.docker.compose.service={service}")
        return docker("ps", "-a", "-q", *(arg for f in filters for arg in ("--filter", f))).split()

    def container(self, service: str = "app") -> str:
        """The one container of ``service``."""
        ids = self.containers(service)
        assert len(ids) == 1, f"{len(ids)} containers for {service}"
        return ids[0]

    def take_down(self) -> None:
        """Stop what was started, ``down -v`` the project, remove what compose left."""
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)
        down = ["down", "-v", "--remove-orphans", "--timeout", "1"]
        subprocess.run(
            [*self.compose, "-f", str(self.directory / "compose.yaml"), *down],
            env=self.compose_env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        if leftovers := self.containers():
            docker("rm", "-f", "-v", *leftovers)


class Background:
    """A running process whose merged stdout/stderr is read into memory by a thread."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self._output = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while chunk := os.read(fd, 65536):
            with self._lock:
                self._output += chunk

    @property
    def output(self) -> bytes:
        with self._lock:
            return bytes(self._output)

    def wait_for(self, text: bytes, timeout: float = 60) -> None:
        """Until ``text`` was printed; fails early if the process ends first."""
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self._reader.join(timeout=5)
                assert text in self.output, f"{text!r} never came: {self.output.decode()}"
                return
            time.sleep(0.05)

    def finish(self, timeout: float = 60) -> int:
        """The exit status once the process has ended and all its output is read."""
        status = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return status


@pytest.fixture
def stack(stack_directory: Path, compose_command: list[str], gpg_keys: GpgKeys) -> Iterator[Stack]:
    """A compose project of its own on the test stack, taken down after the test."""
    project = f"su-e2e-{uuid.uuid4().hex[:10]}"
    running = Stack(stack_directory, project, compose_command, gpg_keys)
    try:
        yield running
    finally:
        running.take_down()
