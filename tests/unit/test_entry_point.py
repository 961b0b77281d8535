"""The entry point: Ctrl-C at any moment of start-up ends quietly with exit 130.

A SIGINT is delivered at a chosen import (an import hook sends it), so the
moment is exact instead of raced against a timer.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Starts secure-up as `python -m secure_up ARGS` would, sending SIGINT when MODULE is imported.
INTERRUPT_AT_IMPORT = """
import os, runpy, signal, sys
module, args = sys.argv[1], sys.argv[2:]
class InterruptAt:
    def find_spec(self, name, path=None, target=None):
        if name == module:
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, InterruptAt())
sys.argv = ["secure-up", *args]
runpy.run_module("secure_up", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize(
    ("module", "args"),
    [
        ("secure_up.errors", ["decrypt", "missing.yaml"]),  # the entry point's own imports
        ("secure_up.cli.fastpath", ["decrypt", "missing.yaml"]),
        ("secure_up.system.hardening", ["decrypt", "missing.yaml"]),
        ("typer", ["--help"]),  # the full parser, loaded inside main()
        ("secure_up.commands.crypt", ["decrypt", "missing.yaml"]),
    ],
)
def test_ctrl_c_during_start_up_exits_130_without_a_traceback(module: str, args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", INTERRUPT_AT_IMPORT, module, *args],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    assert result.returncode == 130, result.stderr
    assert b"Traceback" not in result.stderr
    assert b"KeyboardInterrupt" not in result.stderr
