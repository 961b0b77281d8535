"""Exit codes and ``filestatus`` answers equal the real sops', case by case."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SecureUp, Sops

pytestmark = [pytest.mark.sops, pytest.mark.gpg]


@pytest.fixture
def encrypted_json(tmp_path: Path, sops: Sops) -> Path:
    plain = tmp_path / "plain.json"
    plain.write_text('{"a": "x", "nested": {"b": "y"}, "list": [1]}')
    path = tmp_path / "app.json"
    path.write_bytes(sops.encrypt(plain))
    return path


def _without_mac(path: Path) -> Path:
    text = path.read_text()
    path.write_text(re.sub(r'\n\t\t"mac": "ENC\[[^"]*\]",', "", text))
    assert '"mac"' not in path.read_text()
    return path


def _plaintext_binary(path: Path) -> Path:
    binary = path.parent / "blob.bin"
    binary.write_bytes(b"\x8f\x00 not json\n")
    return binary


def _directory(path: Path) -> Path:
    return path.parent


def _missing(path: Path) -> Path:
    return path.parent / "nope.json"


def _same(path: Path) -> Path:
    return path


CASES: list[tuple[str, Callable[[Path], Path], tuple[str, ...], int]] = [
    ("no MAC: filestatus", _without_mac, ("filestatus",), 0),
    ("no MAC: decrypt", _without_mac, ("decrypt",), 51),
    ("plaintext binary: filestatus", _plaintext_binary, ("filestatus",), 1),
    ("tree as binary", _same, ("decrypt", "--output-type", "binary"), 4),
    ("tree as dotenv", _same, ("decrypt", "--output-type", "dotenv"), 4),
    ("a directory", _directory, ("decrypt",), 2),
    ("a missing file", _missing, ("decrypt",), 100),
]


@pytest.mark.parametrize(
    ("change", "args", "code"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_exit_code_and_output_equal_sops(
    sops: Sops,
    secure_up: SecureUp,
    encrypted_json: Path,
    change: Callable[[Path], Path],
    args: tuple[str, ...],
    code: int,
) -> None:
    target = change(encrypted_json)
    theirs = sops.run(*args, str(target), check=False)
    ours = secure_up.run(*args, str(target), check=False)
    assert theirs.returncode == code, theirs.stderr.decode()
    assert ours.returncode == code, ours.stderr.decode()
    if args[0] == "filestatus":
        assert ours.stdout == theirs.stdout
