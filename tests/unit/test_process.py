"""Running the child: environment, exit codes, signals, stdin, masked output, ptys, GitHub.

Everything runs real processes. Scenarios that involve our own signals or
terminal run ``secure_up.system.process`` in a driver process (``DRIVER`` below) so
that the test can signal it, feed its stdin, or be its terminal.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from secure_up.launch.masking import Masker
from secure_up.launch.secret_values import SecretValues
from secure_up.system import process
from secure_up.system.process import ChildStartError, child_environment, run_child

pytestmark = pytest.mark.timeout(60)

SECRET = "s3cr3t-Pa55w0rd"
SECRETS = SecretValues({"DB_PASSWORD": SECRET}, {"DB_PASSWORD": "secrets/app.env"})
PYTHON = sys.executable

#: Runs one function of secure_up.system.process with a JSON config from $DRIVER_CONFIG.
DRIVER = """
import json, os, sys
from secure_up.system import process
from secure_up.launch.masking import Masker
from secure_up.launch.secret_values import SecretValues
config = json.loads(os.environ.pop("DRIVER_CONFIG"))
if config.get("ctypes_prctl"):
    sys.modules["secure_up.system._prctl"] = None  # as where the extension was not built
secrets = SecretValues(config["secrets"])
env = process.child_environment(config["base"], secrets, pristine=config["pristine"])
if config["call"] == "launch":
    sys.exit(process.launch(config["argv"], config["base"], secrets,
                            pristine=config["pristine"], mask=config["mask"],
                            github_mask=config.get("github_mask", False)))
if config["call"] == "exec":
    process.exec_child(config["argv"], env)
masker = Masker(secrets.values()) if config["mask"] else None
sys.exit(process.run_child(config["argv"], env, mask=masker))
"""

#: A child that reports signals: prints "ready"; after the first signal waits a little
#: (for a duplicate), prints "got <NAME>" for each delivery and their count, exits 7.
#: Python runs a handler once for signals that come close together, so deliveries
#: are counted from the wakeup fd, which gets a byte for each.
#: A child that prints the value it finds in its environment (never on its argv).
PRINT_VALUE = "import os; print('value:', os.environ['DB_PASSWORD'])"

SIGNAL_REPORTER = """
import os, signal, sys, time
read_end, write_end = os.pipe()
os.set_blocking(read_end, False)
os.set_blocking(write_end, False)
signal.set_wakeup_fd(write_end)
for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGQUIT):
    signal.signal(number, lambda number, frame: None)
print("ready", flush=True)
got = b""
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    time.sleep(0.02)
    try:
        got += os.read(read_end, 100)
        break
    except BlockingIOError:
        continue
time.sleep(0.5)
try:
    got += os.read(read_end, 100)
except BlockingIOError:
    pass
for number in got:
    print("got", signal.Signals(number).name)
print("count", len(got))
sys.exit(7)
"""


def driver_config(argv: list[str], **overrides: Any) -> dict[str, str]:
    config = {
        "call": "run",
        "argv": argv,
        "secrets": dict(SECRETS),
        "base": {"PATH": os.environ["PATH"]},
        "pristine": False,
        "mask": True,
        **overrides,
    }
    return {**os.environ, "DRIVER_CONFIG": json.dumps(config)}


def run_driver(
    argv: list[str], stdin: bytes = b"", **overrides: Any
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [PYTHON, "-c", DRIVER],
        input=stdin,
        capture_output=True,
        env=driver_config(argv, **overrides),
        timeout=30,
        check=False,
    )


def start_driver(argv: list[str], **overrides: Any) -> subprocess.Popen[bytes]:
    """The driver in a session of its own: no terminal, as under CI or a service manager."""
    return subprocess.Popen(
        [PYTHON, "-c", DRIVER],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        env=driver_config(argv, **overrides),
        start_new_session=True,
    )


def python_child(source: str) -> list[str]:
    return [PYTHON, "-c", source]


def cmdlines_containing(value: bytes) -> list[int]:
    """PIDs of all processes whose argv holds ``value`` (from /proc/*/cmdline)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # gone, or not ours to read
        if value in cmdline:
            pids.append(int(entry.name))
    return pids


def read_until(fd: int, needle: bytes, timeout: float = 15.0) -> bytes:
    """Read from ``fd`` until ``needle`` appears; fail (don't hang) after ``timeout``."""
    data = b""
    deadline = time.monotonic() + timeout
    while needle not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            pytest.fail(f"no {needle!r} within {timeout}s; got {data!r}")
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the pty's other side is closed
            chunk = b""
        if not chunk:
            pytest.fail(f"stream ended before {needle!r}; got {data!r}")
        data += chunk
    return data


def read_to_end(fd: int, timeout: float = 15.0) -> bytes:
    """Everything until the other side closes ``fd``; fail (don't hang) after ``timeout``."""
    data = b""
    deadline = time.monotonic() + timeout
    while select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the pty's other side is closed
            return data
        if not chunk:
            return data
        data += chunk
    pytest.fail(f"still open after {timeout}s; got {data!r}")


# --- the environment -------------------------------------------------------------------------


def test_child_environment_is_base_plus_secrets_and_secrets_win() -> None:
    base = {"PATH": "/bin", "DB_PASSWORD": "from-the-shell", "OTHER": "1"}
    env = child_environment(base, SECRETS, pristine=False)
    assert env == {"PATH": "/bin", "DB_PASSWORD": SECRET, "OTHER": "1"}
    assert base["DB_PASSWORD"] == "from-the-shell"


def test_pristine_keeps_only_the_allow_list_and_the_secrets() -> None:
    base = {
        "PATH": "/bin",
        "HOME": "/home/u",
        "LC_ALL": "C.UTF-8",
        "COMPOSE_PROJECT_NAME": "app",
        "DOCKER_HOST": "unix:///run/docker.sock",
        "SSH_AUTH_SOCK": "/tmp/agent",
        "AWS_SECRET_ACCESS_KEY": "stray",
        "HTTPS_PROXY": "http://user:pw@proxy",
        "DBPASS": "stray",
    }
    env = child_environment(base, SECRETS, pristine=True)
    assert sorted(env) == [
        "COMPOSE_PROJECT_NAME",
        "DB_PASSWORD",
        "DOCKER_HOST",
        "HOME",
        "LC_ALL",
        "PATH",
        "SSH_AUTH_SOCK",
    ]


def test_building_the_environment_leaves_ours_alone() -> None:
    before = dict(os.environ)
    child_environment(os.environ, SECRETS, pristine=False)
    child_environment(os.environ, SECRETS, pristine=True)
    assert dict(os.environ) == before
    assert "DB_PASSWORD" not in os.environ


def test_the_environment_hides_values_in_repr() -> None:
    env = child_environment({}, SECRETS, pristine=True)
    assert SECRET not in repr(env)
    assert SECRET not in str(env)
    assert "DB_PASSWORD" in repr(env)


def test_a_value_an_environment_cannot_hold_is_refused_by_name_only() -> None:
    secrets = SecretValues({"TOKEN": "abc\0def-secret"}, {"TOKEN": "secrets/ci.env"})
    with pytest.raises(ChildStartError) as caught:
        child_environment({}, secrets, pristine=True)
    assert "TOKEN" in caught.value.diagnostics()
    assert "secrets/ci.env" in caught.value.diagnostics()
    assert "def-secret" not in caught.value.diagnostics()


def test_pristine_env_in_a_real_child(tmp_path: Path) -> None:
    base = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "STRAY": "x"}
    env = child_environment(base, SECRETS, pristine=True)
    with (tmp_path / "out").open("wb") as out:
        assert run_child(["env"], env, mask=None, stdout=out.fileno()) == 0
    names = {line.split("=", 1)[0] for line in (tmp_path / "out").read_text().splitlines()}
    assert names <= {"PATH", "LANG", "DB_PASSWORD", "PWD", "SHLVL", "_"}  # sh may add the last
    assert {"PATH", "LANG", "DB_PASSWORD"} <= names


# --- GitHub Actions ----------------------------------------------------------------------------


def test_add_mask_commands_escape_per_github_rules() -> None:
    commands = process.add_mask_commands(["100%\r\nsure", "abc", "line-one\nline-two"])
    assert commands.decode().splitlines() == [
        "::add-mask::100%25%0D%0Asure",
        "::add-mask::100%25",
        "::add-mask::sure",
        "::add-mask::line-one%0Aline-two",
        "::add-mask::line-one",
        "::add-mask::line-two",
    ]


def test_add_mask_is_opt_in_and_goes_to_stderr_never_to_stdout() -> None:
    argv = python_child(PRINT_VALUE)
    base = {"PATH": os.environ["PATH"], "GITHUB_ACTIONS": "true"}
    default = run_driver(argv, call="launch", base=base)
    assert default.returncode == 0, default.stderr
    assert default.stdout == b"value: *****\n"
    assert SECRET.encode() not in default.stdout + default.stderr
    opted_in = run_driver(argv, call="launch", base=base, github_mask=True)
    assert opted_in.stdout == b"value: *****\n"  # what `V=$(...)` or `> build.log` keeps
    assert opted_in.stderr.decode().splitlines() == [f"::add-mask::{SECRET}"]  # a pipe here


def test_add_mask_is_never_written_to_a_regular_file(tmp_path: Path) -> None:
    base = {"GITHUB_ACTIONS": "true"}
    with (tmp_path / "err.log").open("wb") as log:
        assert not process.announce_to_github_actions(
            base, SECRETS, opted_in=True, out=log.fileno()
        )
    assert SECRET.encode() not in (tmp_path / "err.log").read_bytes()
    read_end, write_end = os.pipe()
    try:
        assert not process.announce_to_github_actions(base, SECRETS, opted_in=False, out=write_end)
        assert process.announce_to_github_actions(base, SECRETS, opted_in=True, out=write_end)
        assert os.read(read_end, 4096) == f"::add-mask::{SECRET}\n".encode()
    finally:
        os.close(read_end)
        os.close(write_end)


# --- exit codes, exec, start failures --------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "status"), [("exit 0", 0), ("exit 3", 3), ("kill -KILL $$", 137)]
)
@pytest.mark.parametrize("masked", [True, False])
def test_exit_status_is_the_childs(script: str, status: int, masked: bool) -> None:
    mask = Masker(SECRETS.values()) if masked else None
    env = child_environment(os.environ, SECRETS, pristine=False)
    assert run_child(["sh", "-c", script], env, mask=mask) == status


def test_exec_replaces_us_and_its_status_is_ours() -> None:
    driver = start_driver(["sh", "-c", "echo $$; exit 3"], call="exec", mask=False)
    output, _ = driver.communicate(timeout=20)
    assert int(output) == driver.pid
    assert driver.returncode == 3


def test_exec_restores_the_default_sigpipe_that_python_ignores() -> None:
    result = run_driver(["grep", "SigIgn", "/proc/self/status"], call="exec", mask=False)
    ignored = int(result.stdout.split()[1], 16)
    assert not ignored & (1 << (signal.SIGPIPE - 1))


@pytest.mark.parametrize(
    ("mask", "secrets"), [(False, dict(SECRETS)), (True, {"SHORT": "abc"})], ids=["off", "short"]
)
def test_launch_execs_when_nothing_is_to_be_masked(mask: bool, secrets: dict[str, str]) -> None:
    argv = python_child("import os; print(os.getpid())")
    driver = start_driver(argv, call="launch", mask=mask, secrets=secrets)
    output, _ = driver.communicate(timeout=20)
    assert int(output) == driver.pid


def test_a_program_that_does_not_exist_is_a_clear_error() -> None:
    for mask in (None, Masker(SECRETS.values())):
        with pytest.raises(ChildStartError, match="no-such-program was not found"):
            run_child(["no-such-program"], {"PATH": "/usr/bin:/bin"}, mask=mask)
    result = run_driver(["no-such-program"], call="exec", mask=False)
    assert b"no-such-program was not found" in result.stderr


# --- masked output ---------------------------------------------------------------------------


def test_masked_output_split_across_writes_with_pauses(tmp_path: Path) -> None:
    source = """
import os, sys, time
value = os.environ["DB_PASSWORD"]
for stream in (sys.stdout, sys.stderr):
    for piece in ("password=", value[:3], value[3:9], value[9:], " ok"):
        stream.write(piece)
        stream.flush()
        time.sleep(0.01)  # pieces in quick succession; a quiet child is flushed (below)
    stream.write("\\n")
"""
    env = child_environment(os.environ, SECRETS, pristine=False)
    with (tmp_path / "out").open("wb") as out, (tmp_path / "err").open("wb") as err:
        status = run_child(
            python_child(source),
            env,
            mask=Masker(SECRETS.values()),
            stdout=out.fileno(),
            stderr=err.fileno(),
        )
    assert status == 0
    assert (tmp_path / "out").read_bytes() == b"password=***** ok\n"
    assert (tmp_path / "err").read_bytes() == b"password=***** ok\n"


def test_lots_of_output_is_copied_whole(tmp_path: Path) -> None:
    source = "import os; print(('x' * 99 + os.environ['DB_PASSWORD'] + '\\n') * 20000, end='')"
    env = child_environment(os.environ, SECRETS, pristine=False)
    with (tmp_path / "out").open("wb") as out:
        assert run_child(python_child(source), env, mask=Masker([SECRET]), stdout=out.fileno()) == 0
    assert (tmp_path / "out").read_bytes() == (b"x" * 99 + b"*****\n") * 20000


def test_when_our_reader_goes_away_the_child_gets_sigpipe() -> None:
    driver = start_driver(["yes"])  # `secure-up run -- yes | head -1`
    assert driver.stdout is not None
    assert driver.stdout.readline() == b"y\n"
    driver.stdout.close()
    assert driver.wait(timeout=20) == 128 + signal.SIGPIPE


def test_a_grandchild_holding_the_output_open_does_not_keep_us_waiting(tmp_path: Path) -> None:
    env = child_environment(os.environ, SECRETS, pristine=False)
    started = time.monotonic()
    with (tmp_path / "out").open("wb") as out:
        argv = ["sh", "-c", "sleep 30 & echo $!; echo done"]
        assert run_child(argv, env, mask=Masker([SECRET]), stdout=out.fileno()) == 0
    assert time.monotonic() - started < 10
    grandchild, done = (tmp_path / "out").read_text().split()
    os.kill(int(grandchild), signal.SIGTERM)
    assert done == "done"


def test_stdin_passes_through_to_the_child() -> None:
    result = run_driver(["sh", "-c", "cat; echo done"], stdin=b"line 1\nline 2\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"line 1\nline 2\ndone\n"


def test_no_value_on_any_argv_while_the_child_runs() -> None:
    marker = b"argv-marker-7c1e"
    argv = ["sh", "-c", f"echo ready; sleep 5 # {marker.decode()}"]
    driver = subprocess.Popen(
        [PYTHON, "-c", DRIVER], stdout=subprocess.PIPE, env=driver_config(argv)
    )
    try:
        assert driver.stdout is not None
        read_until(driver.stdout.fileno(), b"ready")
        assert cmdlines_containing(marker)  # the scan sees the child
        assert cmdlines_containing(SECRET.encode()) == []
    finally:
        driver.kill()
        driver.wait(timeout=10)


# --- signals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGQUIT]
)
def test_signals_to_us_reach_the_child_once_and_its_status_is_ours(number: int) -> None:
    driver = start_driver(python_child(SIGNAL_REPORTER))
    try:
        assert driver.stdout is not None
        read_until(driver.stdout.fileno(), b"ready")
        driver.send_signal(number)
        output, _ = driver.communicate(timeout=20)
    finally:
        driver.kill()
    name = signal.Signals(number).name
    assert output.decode().split("\n")[-3:] == [f"got {name}", "count 1", ""]
    assert driver.returncode == 7


def test_a_signal_to_our_whole_process_group_reaches_the_child_once() -> None:
    # `timeout`, CI runners and `kill -- -PGID` signal a whole process group.
    driver = start_driver(python_child(SIGNAL_REPORTER))
    try:
        assert driver.stdout is not None
        read_until(driver.stdout.fileno(), b"ready")
        os.killpg(driver.pid, signal.SIGTERM)
        output, _ = driver.communicate(timeout=20)
    finally:
        driver.kill()
    assert output.decode().split("\n")[-3:] == ["got SIGTERM", "count 1", ""]
    assert driver.returncode == 7


@pytest.mark.parametrize("ctypes_prctl", [False, True], ids=["native prctl", "ctypes prctl"])
def test_the_child_is_stopped_when_we_are_killed(tmp_path: Path, ctypes_prctl: bool) -> None:
    stopped = tmp_path / "stopped"
    source = f"""
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: (open({str(stopped)!r}, "w").close(), sys.exit(0)))
print("ready", flush=True)
time.sleep(30)
"""
    driver = start_driver(python_child(source), ctypes_prctl=ctypes_prctl)
    try:
        assert driver.stdout is not None
        read_until(driver.stdout.fileno(), b"ready")
        driver.kill()  # SIGKILL: we cannot relay anything
        driver.wait(timeout=10)
        deadline = time.monotonic() + 10
        while not stopped.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        driver.kill()
    assert stopped.exists(), "the child outlived us"


def test_sigterm_reaches_a_shell_child_and_its_exit_code_is_ours() -> None:
    script = 'trap "echo got TERM; exit 7" TERM; echo ready; while :; do sleep 0.1; done'
    driver = start_driver(["sh", "-c", script])
    try:
        assert driver.stdout is not None
        output = read_until(driver.stdout.fileno(), b"ready\n")
        driver.terminate()
        output += driver.communicate(timeout=20)[0]
    finally:
        driver.kill()
    assert output == b"ready\ngot TERM\n"
    assert driver.returncode == 7


@contextmanager
def driver_on_a_terminal(argv: list[str], size: tuple[int, int]) -> Iterator[tuple[int, int]]:
    """(pid, pty master) of a driver whose controlling terminal is a fresh pty of ``size``."""
    env = driver_config(argv)
    pid, master = pty.fork()
    if pid == 0:  # the driver: a session leader in the foreground of the pty
        termios.tcsetwinsize(0, size)
        os.execve(PYTHON, [PYTHON, "-c", DRIVER], env)  # noqa: S606
    try:
        yield pid, master
    finally:
        with suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(master)


def exit_status_of(pid: int, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    pytest.fail(f"process {pid} still running after {timeout}s")


@pytest.mark.parametrize(("key", "name"), [(b"\x03", b"SIGINT"), (b"\x1c", b"SIGQUIT")])
def test_ctrl_c_on_a_terminal_reaches_the_child_once(key: bytes, name: bytes) -> None:
    with driver_on_a_terminal(python_child(SIGNAL_REPORTER), (24, 80)) as (pid, master):
        read_until(master, b"ready")
        os.write(master, key)  # Ctrl-C or Ctrl-\: the terminal signals its foreground group
        output = read_to_end(master)
        assert exit_status_of(pid) == 7
    assert b"got " + name in output
    assert b"count 1" in output


def test_on_a_terminal_the_child_gets_a_pty_of_our_size_and_sigwinch_after_a_resize() -> None:
    source = """
import os, signal, sys, time
on_signal = []
signal.signal(signal.SIGWINCH, lambda *_: on_signal.append(os.get_terminal_size(1)))
def show(size):
    value = os.environ["DB_PASSWORD"]
    print(f"tty={sys.stdout.isatty()} size={size[0]}x{size[1]} {value}", flush=True)
show(os.get_terminal_size(1))
deadline = time.monotonic() + 20
while (120, 40) not in on_signal and time.monotonic() < deadline:
    time.sleep(0.02)
show(on_signal[-1])
"""
    with driver_on_a_terminal(python_child(source), (33, 101)) as (pid, master):
        output = read_until(master, b"tty=True size=101x33 *****\r\n")
        termios.tcsetwinsize(master, (40, 120))  # the kernel sends SIGWINCH to the driver
        output += read_to_end(master)
        assert exit_status_of(pid) == 0
    assert b"tty=True size=120x40 *****\r\n" in output
    assert SECRET.encode() not in output
    assert b"\r\r\n" not in output  # the child's pty passes "\n" as is; ours adds "\r"


def test_a_partial_line_shows_at_once_and_only_a_possible_start_of_a_value_waits() -> None:
    # A prompt without newline, then silence: it must show within the idle delay,
    # not when the child writes again (3 s later) or exits.
    source = """
import sys, time
sys.stdout.write("Password for s3cr"); sys.stdout.flush()
time.sleep(3)
"""
    read_end, write_end = os.pipe()
    started = time.monotonic()
    child = subprocess.Popen(
        [PYTHON, "-c", DRIVER],
        env=driver_config(python_child(source)),
        stdout=write_end,
        stdin=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        first = read_until(read_end, b"Password for ", timeout=10)
        assert first == b"Password for "  # "s3cr" may start the value: held back...
        assert read_until(read_end, b"s3cr", timeout=10).endswith(b"s3cr")  # ...briefly
        assert time.monotonic() - started < 2.5  # long before the child writes again
    finally:
        child.kill()
        child.wait()
        os.close(read_end)


def test_e2big_says_the_environment_is_too_large_and_names_the_variable() -> None:
    big = SecretValues({"HUGE_CERT": "x" * 200_000}, {"HUGE_CERT": "secrets/app.env"})
    env = child_environment({"PATH": os.environ["PATH"]}, big, pristine=True)
    with pytest.raises(ChildStartError) as caught:
        run_child(["true"], env, mask=Masker(big.values()))
    message = f"{caught.value} {caught.value.fix}"
    assert "too large" in message
    assert "HUGE_CERT" in message
    assert "executable" not in message
    assert "xxxxxxxx" not in message


def test_a_detached_child_writing_to_dev_tty_is_masked_through_its_pty() -> None:
    # Our stdout is a terminal (a pty of the test), our stdin is not: the child gets a
    # session of its own whose controlling terminal is its output pty, so what it
    # writes to /dev/tty goes through the masker too.
    env = child_environment(os.environ, SECRETS, pristine=False)
    master, slave = pty.openpty()
    no_terminal = os.open(os.devnull, os.O_RDONLY)
    try:
        status = run_child(
            ["sh", "-c", 'printf "tty:%s\\n" "$DB_PASSWORD" > /dev/tty'],
            env,
            mask=Masker(SECRETS.values()),
            stdin=no_terminal,
            stdout=slave,
            stderr=slave,
        )
        output = read_until(master, b"\n", timeout=10)
    finally:
        os.close(no_terminal)
        os.close(slave)
        os.close(master)
    assert status == 0
    assert b"tty:*****" in output
    assert SECRET.encode() not in output


def test_the_collector_is_back_on_while_a_childs_output_is_copied() -> None:
    # The entry point runs the start-up without the garbage collector; copying a
    # child's output may last hours, so it must not stay off.
    import gc

    env = child_environment(os.environ, SECRETS, pristine=False)
    gc.disable()
    try:
        assert run_child(["true"], env, mask=Masker(SECRETS.values())) == 0
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.enable()
