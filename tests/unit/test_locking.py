"""The per-file writer lock, with real flocks, real threads and a real second process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from secure_up.errors import InputFileError, UsageError
from secure_up.system.atomic import atomic_write
from secure_up.system.locking import DEFAULT_TIMEOUT, LockTimeoutError, lock_timeout, locked


@pytest.fixture
def target(tmp_path: Path) -> Path:
    path = tmp_path / "app.yaml"
    path.write_bytes(b"old\n")
    return path


def test_a_second_holder_times_out_with_a_clear_error(target: Path) -> None:
    with locked(target):
        started = time.monotonic()
        with pytest.raises(LockTimeoutError) as caught, locked(target, timeout=0.3):
            pass  # pragma: no cover - never reached
        waited = time.monotonic() - started
    assert 0.3 <= waited < 2
    message = caught.value.diagnostics()
    assert str(target) in message
    assert f"process {os.getpid()}" in message  # the holder, from /proc/locks
    assert "nothing was written" in message


def test_the_lock_is_released_after_the_block_and_on_errors(target: Path) -> None:
    with pytest.raises(RuntimeError), locked(target):
        raise RuntimeError("boom")
    with locked(target, timeout=0):
        pass


def test_another_process_waits_then_gets_the_lock(target: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from secure_up.system.locking import locked\n"
        "start = time.monotonic()\n"
        "with locked(Path(sys.argv[1]), timeout=10): print(time.monotonic() - start)\n"
    )
    with locked(target):
        child = subprocess.Popen(
            [sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE, text=True
        )
        time.sleep(0.5)
        assert child.poll() is None  # still waiting for us
    out, _ = child.communicate(timeout=20)
    assert child.returncode == 0
    assert float(out) >= 0.4


def test_another_process_gives_up_and_names_the_file(target: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from secure_up.system.locking import locked\n"
        "from secure_up.errors import SecureUpError\n"
        "try:\n"
        "    with locked(Path(sys.argv[1]), timeout=0.2): pass\n"
        "except SecureUpError as error: print(error.diagnostics()); sys.exit(3)\n"
    )
    with locked(target):
        result = subprocess.run(
            [sys.executable, "-c", code, str(target)], capture_output=True, text=True, timeout=20
        )
    assert result.returncode == 3
    assert f"{target} is locked by process {os.getpid()}" in result.stdout


def test_a_waiter_follows_the_file_when_the_holder_replaces_it(target: Path) -> None:
    """After an atomic rename the old inode's lock is worthless: the waiter must lock the new."""
    events: list[str] = []
    holder_ready = threading.Event()

    def waiter() -> None:
        holder_ready.wait()
        with locked(target, timeout=10):
            events.append("waiter has it")
            # While the waiter holds the lock, nobody else may take the current file.
            try:
                with locked(target, timeout=0):
                    events.append("third got it too")
            except LockTimeoutError:
                events.append("third refused")

    thread = threading.Thread(target=waiter)
    thread.start()
    with locked(target):
        holder_ready.set()
        time.sleep(0.3)
        # Noted first: once the new file is in place it is unlocked, and the waiter may
        # take it before this thread runs again (the holder's work is done by then).
        events.append("holder replaced the file")
        atomic_write(target, b"new\n")
    thread.join(timeout=20)
    assert events == ["holder replaced the file", "waiter has it", "third refused"]


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"), locked(tmp_path / "nope"):
        pass  # pragma: no cover


def test_a_symlink_is_not_followed(target: Path) -> None:
    link = target.with_name("link.yaml")
    link.symlink_to(target)
    with pytest.raises(InputFileError) as caught, locked(link):
        pass  # pragma: no cover
    assert caught.value.fix is not None
    assert "symlinks are not followed" in caught.value.fix


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, DEFAULT_TIMEOUT),
        ({"SECURE_UP_LOCK_TIMEOUT": "2.5"}, 2.5),
        ({"SECURE_UP_LOCK_TIMEOUT": " 0 "}, 0.0),
        ({"SECURE_UP_LOCK_TIMEOUT": ""}, DEFAULT_TIMEOUT),
    ],
)
def test_lock_timeout_from_the_environment(environ: dict[str, str], expected: float) -> None:
    assert lock_timeout(environ) == expected


@pytest.mark.parametrize("text", ["soon", "-1", "nan", "inf"])
def test_a_bad_lock_timeout_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="SECURE_UP_LOCK_TIMEOUT"):
        lock_timeout({"SECURE_UP_LOCK_TIMEOUT": text})
