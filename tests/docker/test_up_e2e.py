"""``secure-up app``, ``secure-up compose -- ...`` on a real engine, with Compose v2 and v1.

What a user relies on, checked from outside secure-up: the container got the
exact value (read with ``docker exec`` and ``docker logs``, never through
secure-up); secure-up's own output shows ``*****``; no process ever carried the
value on its command line; a variable set nowhere stops the run before any
container exists; exit codes, SIGTERM and stdin reach the real compose process.
The stack and its fixtures are in ``conftest.py``.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.docker.conftest import DATABASE_URL, DBPASS, URL_LINE_PREFIX, Stack, docker

pytestmark = [pytest.mark.docker, pytest.mark.gpg, pytest.mark.timeout(180)]

URL_LINE = f"{URL_LINE_PREFIX}{DATABASE_URL}".encode()
MASKED_URL_LINE = URL_LINE.replace(DBPASS.encode(), b"*****")
SECRET = DBPASS.encode()
#: The value as it would look on a command line: whole, or split into words by a shell.
ARGV_FORMS = (SECRET, SECRET.replace(b" ", b"\0"))
#: Between two scans of /proc: far shorter than any compose run.
SCAN_INTERVAL = 0.005


def started_app(stack: Stack) -> str:
    """``secure-up app``, the default-command form; the container it started."""
    result = stack.secure_up("app")
    assert result.returncode == 0, result.stderr.decode()
    assert SECRET not in result.stdout + result.stderr
    return stack.container("app")


def container_environment(container: str) -> dict[str, str]:
    """The environment of the container's first process, read by the engine."""
    raw = docker("exec", container, "cat", "/proc/1/environ")
    return dict(entry.split("=", 1) for entry in raw.split("\0") if entry)


def container_log(container: str, text: bytes, timeout: float = 30) -> bytes:
    """``docker logs`` of the container, once ``text`` is in it."""
    deadline = time.monotonic() + timeout
    while (log := docker("logs", container).encode()) and text not in log:
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return log


def descendants(pid: int) -> set[int]:
    """The processes below ``pid`` now (children, their children...)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def as_shell_reports(returncode: int) -> int:
    """A Popen return code as a shell shows it: 128 + N for a process killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class ArgvWatch:
    """What a scan of every /proc/*/cmdline saw, over and over, while a run went on."""

    scans: int = 0
    compose_up_command_lines: int = 0
    carriers: list[str] = field(default_factory=list)  # the program names only


def scan_once(watch: ArgvWatch) -> None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if any(form in argv for form in ARGV_FORMS):
            watch.carriers.append(argv.split(b"\0", 1)[0].decode(errors="replace"))
        if b"compose" in argv and b"\0up\0" in argv:
            watch.compose_up_command_lines += 1
    watch.scans += 1


@contextmanager
def watching_argvs() -> Iterator[ArgvWatch]:
    """Scan every process's command line in a loop for the duration of the block."""
    watch = ArgvWatch()
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(SCAN_INTERVAL):
            scan_once(watch)

    scanner = threading.Thread(target=loop, daemon=True)
    scanner.start()
    try:
        yield watch
    finally:
        stop.set()
        scanner.join(timeout=30)


# -- secure-up app ---------------------------------------------------------------------------


def test_app_gets_the_exact_value_and_our_output_masks_it(stack: Stack) -> None:
    container = started_app(stack)
    assert container_environment(container)["DATABASE_URL"] == DATABASE_URL
    assert URL_LINE + b"\n" in container_log(container, URL_LINE)

    logs = stack.secure_up("compose", "--", "logs", "app")
    assert logs.returncode == 0, logs.stderr.decode()
    assert MASKED_URL_LINE in logs.stdout
    assert SECRET not in logs.stdout + logs.stderr


def test_no_process_carries_the_value_on_its_command_line(stack: Stack) -> None:
    """Through an attached `up` stopped by SIGTERM, then `secure-up app`, scanned all along."""
    with watching_argvs() as watch:
        attached = stack.start_secure_up("up", "--attach", "app")
        attached.wait_for(MASKED_URL_LINE)
        compose = descendants(attached.process.pid)
        attached.process.send_signal(signal.SIGTERM)
        attached.finish()
        stopped = docker("inspect", "--format", "{{.State.Running}}", stack.container("app"))
        started_app(stack)
    assert watch.carriers == []
    assert watch.scans > 10
    assert watch.compose_up_command_lines > 0  # the scans did see compose running
    assert not [pid for pid in compose if alive(pid)]
    assert stopped.strip() == "false"  # compose got the SIGTERM and stopped the service
    assert SECRET not in attached.output


def test_a_variable_set_nowhere_stops_the_run_before_anything_starts(stack: Stack) -> None:
    compose_file = stack.directory / "missing.yaml"
    lines = compose_file.read_text().splitlines()
    other_lines = [str(number) for number, line in enumerate(lines, 1) if "${OTHER" in line]

    result = stack.secure_up("-f", "missing.yaml", "app")

    assert result.returncode == 64
    message = result.stderr.decode()
    assert "OTHER" in message
    assert f"missing.yaml:{','.join(other_lines)}" in message
    assert "used by app, worker" in message
    assert "compose was not started" in message
    assert SECRET not in result.stdout + result.stderr
    assert stack.containers() == []


# -- secure-up compose -- ... ----------------------------------------------------------------


def test_the_exit_code_is_composes(stack: Stack) -> None:
    result = stack.secure_up("compose", "--", "run", "--rm", "app", "sh", "-c", "exit 7")
    assert result.returncode == 7, result.stderr.decode()


def test_stdin_reaches_the_container(stack: Stack) -> None:
    started_app(stack)
    data = b"".join(b"line %d: \t'quotes' \"and\" $dollars \\ \xc3\xa9\n" % n for n in range(2000))
    result = stack.secure_up("compose", "--", "exec", "-T", "app", "sh", "-c", "cat", stdin=data)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == data


def test_sigterm_stops_compose_and_its_exit_code_is_ours(stack: Stack) -> None:
    """`logs -f` runs until a signal: compose run directly gives the baseline exit code."""
    started_app(stack)
    direct = stack.start_compose("logs", "-f", "app")
    direct.wait_for(URL_LINE)
    direct.process.send_signal(signal.SIGTERM)
    expected = as_shell_reports(direct.finish())

    ours = stack.start_secure_up("compose", "--", "logs", "-f", "app")
    ours.wait_for(MASKED_URL_LINE)
    compose = descendants(ours.process.pid)
    assert compose, "compose is not running under secure-up"
    os.kill(ours.process.pid, signal.SIGTERM)  # to secure-up only, not its process group
    assert ours.finish(timeout=30) == expected
    assert not [pid for pid in compose if alive(pid)]
    assert SECRET not in ours.output
