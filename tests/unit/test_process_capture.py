"""``process.capture``: doctor's probes, each failure a shell-like exit code, never an exception.

(Kept apart from test_process.py, which another change owns; fold it in at will.)
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from secure_up.errors import ExitCode
from secure_up.system.process import capture

pytestmark = pytest.mark.timeout(30)

ENV = {"PATH": os.environ["PATH"]}


def test_the_exit_code_and_both_outputs_in_the_given_environment() -> None:
    result = capture(
        ["sh", "-c", 'echo "out $PROBE"; echo err >&2; read -r line || exit 3'],
        env={**ENV, "PROBE": "given"},
        timeout=10,
    )
    assert result.returncode == 3  # stdin is empty, not ours
    assert result.stdout == b"out given\n"
    assert result.stderr == b"err\n"


def test_a_program_that_is_not_there_is_127(tmp_path: Path) -> None:
    result = capture([str(tmp_path / "docker")], env=ENV, timeout=10)
    assert result.returncode == ExitCode.COMMAND_NOT_FOUND
    assert result.stderr == b"No such file or directory"


def test_a_program_that_cannot_start_is_126(tmp_path: Path) -> None:
    script = tmp_path / "docker"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    result = capture([str(script)], env=ENV, timeout=10)
    assert result.returncode == ExitCode.COMMAND_NOT_EXECUTABLE


def test_a_program_that_hangs_is_killed_and_124() -> None:
    started = time.monotonic()
    result = capture(["sleep", "20"], env=ENV, timeout=0.5)
    assert time.monotonic() - started < 5
    assert result.returncode == 124
    assert result.stderr == b"no answer within 0.5 s"
