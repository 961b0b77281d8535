"""The command line's rough edges, through the real CLI with the real gpg and sops.

Options before the command, a value typed as an extra argument, keys and values
``run`` could never hand on, an empty value.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Sops

pytestmark = [pytest.mark.sops, pytest.mark.gpg, pytest.mark.timeout(180)]

RUN = [sys.executable, "-m", "secure_up"]


def secure_up(
    sops: Sops, *args: str, stdin: bytes = b"", cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*RUN, *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env=sops.keys.env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def app(sops: Sops, tmp_path: Path) -> Path:
    path = tmp_path / "app.yaml"
    path.write_text("db: old-pass\n")
    path.write_bytes(sops.encrypt(path))
    return path


def test_options_before_the_command_are_the_commands(sops: Sops, app: Path) -> None:
    result = secure_up(sops, "-v", "run", "-s", str(app), "--", "sh", "-c", "echo ran")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"ran\n"
    assert b"secure-up: secrets from" in result.stderr  # -v applied to run


def test_an_extra_argument_is_never_echoed(sops: Sops, app: Path) -> None:
    before = app.read_bytes()
    result = secure_up(sops, "set", str(app), "db", "Typed-S3cret-Value")
    assert result.returncode == 2
    assert b"Typed-S3cret-Value" not in result.stdout + result.stderr
    assert b"unexpected extra argument (not shown: it may be a secret)" in result.stderr
    assert b"stdin" in result.stderr
    assert app.read_bytes() == before


@pytest.mark.parametrize("key", ["a\nb", '["db\nx"]', "tab\there", "nul\x01"])
def test_set_refuses_a_key_with_a_control_character(sops: Sops, app: Path, key: str) -> None:
    before = app.read_bytes()
    result = secure_up(sops, "set", str(app), key, stdin=b"v")
    assert result.returncode == 2, result.stderr
    assert b"control character" in result.stderr
    assert app.read_bytes() == before


def test_set_refuses_a_value_with_a_nul_without_showing_it(sops: Sops, app: Path) -> None:
    before = app.read_bytes()
    result = secure_up(sops, "set", str(app), "db", stdin=b"S3cret-Head\0S3cret-Tail")
    assert result.returncode == 1
    assert b"NUL" in result.stderr
    assert b"S3cret" not in result.stderr
    assert app.read_bytes() == before


def test_set_stores_an_empty_value_from_a_pipe(sops: Sops, app: Path) -> None:
    result = secure_up(sops, "set", str(app), "db", stdin=b"")
    assert result.returncode == 0, result.stderr
    assert sops.run("decrypt", "--extract", '["db"]', str(app)).stdout == b""
