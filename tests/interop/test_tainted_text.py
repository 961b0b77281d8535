"""Decrypted text is tainted: no piece of it appears in anything secure-up prints.

Each test puts a recognisable secret into a file's plaintext so that it breaks
a parser (the shell payload's, a store's), then runs the real command line
(``run``, ``check``, ``up``, ``set``, ``unset``, ``edit``) with the real gpg and
checks that neither stdout nor stderr holds the secret or a piece of it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import GpgKeys, Sops

pytestmark = [pytest.mark.sops, pytest.mark.gpg, pytest.mark.timeout(180)]

RUN = [sys.executable, "-m", "secure_up"]
#: Recognisable pieces of the secret; none may be printed, whole or in part.
PIECES = ("Sup3r", "S3cret", "Xy7", "Tail")
#: A password with a `$` inside double quotes: bash would expand `$Sup3rS3cretTail`.
DOLLAR_IN_PASSWORD = 'export DBPASS="Xy7$Sup3rS3cretTail"\nexport OTHER=fine\n'


def assert_untainted(result: subprocess.CompletedProcess[bytes]) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert b"error" in result.stderr
    for piece in PIECES:
        assert piece.encode() not in output, output.decode(errors="replace")


def secure_up(
    keys: GpgKeys,
    *args: str,
    cwd: Path,
    stdin: bytes = b"",
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*RUN, *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env={**keys.env, "SECURE_UP_COMPOSE": "true", **(env or {})},
        timeout=120,
        check=False,
    )


def sops_file(sops: Sops, directory: Path, name: str, plaintext: str) -> Path:
    plain = directory / name
    plain.write_text(plaintext, encoding="utf-8")
    encrypted = sops.encrypt(plain)
    plain.write_bytes(encrypted)
    return plain


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "docker-compose.yaml").write_text(
        "services:\n  app:\n    image: busybox\n    environment:\n      - DBPASS\n"
    )
    return tmp_path


@pytest.mark.parametrize(
    "command",
    [
        ["run", "-s", "environment.secrets", "--", "true"],
        ["check", "-s", "environment.secrets"],
        ["up", "-s", "environment.secrets", "app"],
        ["-v", "up", "-s", "environment.secrets", "app"],
        ["app", "-s", "environment.secrets"],
        ["compose", "-s", "environment.secrets", "--", "ps"],
        ["set", "environment.secrets", "OTHER"],
        ["unset", "environment.secrets", "OTHER"],
    ],
    ids=lambda command: " ".join(command),
)
def test_a_dollar_in_a_shell_payload_value_is_never_quoted(
    sops: Sops, project: Path, command: list[str]
) -> None:
    sops_file(sops, project, "environment.secrets", DOLLAR_IN_PASSWORD)
    result = secure_up(sops.keys, *command, cwd=project, stdin=b"new-value")
    assert_untainted(result)
    assert b"line 1, column 19" in result.stderr


#: An editor that writes $EDIT_TEXT on its first call and leaves the file alone after.
EDITOR = textwrap.dedent(
    """
    import os, sys
    marker = sys.argv[1] + ".edited"
    if not os.path.exists(marker):
        open(marker, "w").close()
        open(sys.argv[1], "w").write(os.environ["EDIT_TEXT"])
    """
)

#: (file name, valid plaintext, edited text that breaks the format around the secret).
BROKEN_EDITS = {
    "shell dollar": (
        "environment.secrets",
        "export DBPASS=old\n",
        DOLLAR_IN_PASSWORD,
    ),
    "shell command": (
        "environment.secrets",
        "export DBPASS=old\n",
        "DBPASS=Xy7 Sup3rS3cretTail\n",
    ),
    "shell append": (
        "environment.secrets",
        "export DBPASS=old\n",
        "export DBPASS=Xy7 Sup3rS3cretTail+=x\n",
    ),
    "yaml": ("app.yaml", "db: old\n", "db: [Xy7Sup3rS3cretTail\n"),
    "yaml tab": ("app.yaml", "db: old\n", "db: Xy7Sup3rS3cretTail\n\tx: 1\n"),
    "json": ("app.json", '{"db": "old"}\n', '{"db": "Xy7Sup3rS3cretTail\n'),
    "json trailing": ("app.json", '{"db": "old"}\n', '{"db": "Xy7"} Sup3rS3cretTail\n'),
    "dotenv": ("app.env", "DB=old\n", "DB=old\nXy7Sup3rS3cretTail\n"),
    "ini": ("app.ini", "[s]\ndb = old\n", "[s]\ndb = old\nXy7Sup3rS3cretTail\n"),
    "ini section": ("app.ini", "[s]\ndb = old\n", "[Xy7Sup3rS3cretTail\ndb = old\n"),
}


@pytest.mark.parametrize(
    ("name", "original", "edited"), BROKEN_EDITS.values(), ids=BROKEN_EDITS.keys()
)
def test_an_edit_that_does_not_parse_is_reported_without_its_text(
    sops: Sops, project: Path, name: str, original: str, edited: str
) -> None:
    path = sops_file(sops, project, name, original)
    editor = project / "editor.py"
    editor.write_text(EDITOR)
    env = {"SECURE_UP_EDITOR": f"{sys.executable} {editor}", "EDIT_TEXT": edited}
    result = secure_up(sops.keys, "edit", str(path), cwd=project, env=env)
    assert_untainted(result)
    assert b"reopening the editor" in result.stderr
