"""The edit session: choosing the editor, the plaintext's private file, the reopen loop, signals.

The editor is a real program: a small shell script that records what it saw
and, per call, writes prepared text over the plaintext or exits with a code.
"""

from __future__ import annotations

import os
import signal
import stat
import textwrap
from pathlib import Path

import pytest

from secure_up.editing.edit_session import (
    EditAbandonedError,
    edit_plaintext,
    editor_command,
)
from secure_up.errors import ExitCode, UsageError
from secure_up.sops import tree
from secure_up.sops.stores import FileType
from secure_up.system.process import ChildStartError

pytestmark = pytest.mark.timeout(60)

ORIGINAL = b"# app\ndb:\n    password: old-pass\n"

#: Call N: records the path, modes and text it was given in $STATE/seen-N, then
#: runs $STATE/before-N if present (a signal to send), copies $STATE/write-N over
#: the file if present, and exits with the code in $STATE/exit-N (default 0).
EDITOR = textwrap.dedent(
    """\
    n=$(( $(cat "$STATE/calls" 2>/dev/null || echo 0) + 1 ))
    echo "$n" > "$STATE/calls"
    echo "$1" > "$STATE/path-$n"
    stat -c '%a' "$1" "$(dirname "$1")" | tr '\\n' ' ' > "$STATE/modes-$n"
    cp "$1" "$STATE/seen-$n"
    [ -f "$STATE/before-$n" ] && . "$STATE/before-$n"
    [ -f "$STATE/write-$n" ] && cat "$STATE/write-$n" > "$1"
    exit "$(cat "$STATE/exit-$n" 2>/dev/null || echo 0)"
    """
)


class Editor:
    """The scripted editor and what it recorded, in ``state``."""

    def __init__(self, tmp_path: Path) -> None:
        self.state = tmp_path / "state"
        self.state.mkdir()
        self.script = tmp_path / "editor.sh"
        self.script.write_text(EDITOR)
        self.environ = {"PATH": os.environ["PATH"], "STATE": str(self.state)}
        self.notes: list[str] = []

    def on_call(self, number: int, *, write: bytes | None = None, code: int = 0) -> None:
        if write is not None:
            (self.state / f"write-{number}").write_bytes(write)
        (self.state / f"exit-{number}").write_text(str(code))

    def before_call(self, number: int, shell: str) -> None:
        (self.state / f"before-{number}").write_text(shell + "\n")

    def edit(
        self, original: bytes = ORIGINAL, file_type: FileType = "yaml"
    ) -> tree.Documents | None:
        return edit_plaintext(
            original,
            "app.yaml",
            command=["/bin/sh", str(self.script)],
            file_type=file_type,
            environ=self.environ,
            note=self.notes.append,
        )

    def calls(self) -> int:
        return int((self.state / "calls").read_text())

    def seen(self, number: int) -> bytes:
        return (self.state / f"seen-{number}").read_bytes()

    def plaintext(self, number: int) -> Path:
        return Path((self.state / f"path-{number}").read_text().strip())

    def modes(self, number: int) -> list[str]:
        return (self.state / f"modes-{number}").read_text().split()


@pytest.fixture
def editor(tmp_path: Path) -> Editor:
    return Editor(tmp_path)


def test_the_saved_text_is_parsed_and_the_plaintext_removed(editor: Editor) -> None:
    editor.on_call(1, write=ORIGINAL.replace(b"old-pass", b"new-pass"))
    documents = editor.edit()
    assert documents is not None
    assert tree.to_plain(documents[0]) == {"db": {"password": "new-pass"}}
    assert editor.seen(1) == ORIGINAL
    assert editor.modes(1) == ["600", "700"]
    assert editor.plaintext(1).name == "app.yaml"
    assert not editor.plaintext(1).parent.exists()


def test_unchanged_text_is_none(editor: Editor) -> None:
    assert editor.edit() is None
    assert not editor.plaintext(1).parent.exists()


def test_a_syntax_error_reopens_with_the_message_on_top(editor: Editor) -> None:
    editor.on_call(1, write=ORIGINAL + b"broken: [unclosed\n")
    editor.on_call(2, write=ORIGINAL.replace(b"old-pass", b"fixed"))
    documents = editor.edit()
    assert documents is not None
    assert tree.to_plain(documents[0]) == {"db": {"password": "fixed"}}
    seen = editor.seen(2)
    header = seen[: seen.index(ORIGINAL)].splitlines()
    assert header
    assert all(line.startswith(b"# secure-up: ") for line in header)
    assert editor.plaintext(1) == editor.plaintext(2)
    (note,) = editor.notes
    assert note.startswith("error in the edited text:")
    assert note.endswith("reopening the editor")


def test_the_header_lines_are_removed_before_parsing(editor: Editor) -> None:
    editor.on_call(1, write=ORIGINAL + b"broken: [unclosed\n")
    editor.before_call(2, 'sed -i "s/old-pass/fixed/; /^broken/d" "$1"')
    documents = editor.edit()
    assert documents is not None
    assert tree.to_plain(documents[0]) == {"db": {"password": "fixed"}}
    assert documents[0][0] == tree.Comment(" app")  # our header left no comment behind


def test_a_top_level_sops_key_is_an_error_to_fix(editor: Editor) -> None:
    editor.on_call(1, write=b"sops: x\n")
    editor.on_call(2, write=ORIGINAL.replace(b"old-pass", b"other"))
    assert editor.edit() is not None
    assert b"top-level `sops` key" in editor.seen(2)


def test_json_has_no_comments_so_the_message_goes_to_the_note_only(editor: Editor) -> None:
    original = b'{\n\t"a": "old"\n}\n'
    editor.on_call(1, write=b'{"a": ')
    editor.on_call(2, write=b'{"a": "new"}\n')
    documents = editor.edit(original, "json")
    assert documents is not None
    assert editor.seen(2) == b'{"a": '
    assert len(editor.notes) == 1


def test_closing_the_editor_without_fixing_abandons_the_edit(editor: Editor) -> None:
    editor.on_call(1, write=ORIGINAL + b"broken: [unclosed\n")
    with pytest.raises(EditAbandonedError, match="without fixing the error"):
        editor.edit()
    assert editor.calls() == 2
    assert not editor.plaintext(1).parent.exists()


def test_an_editor_that_fails_abandons_the_edit(editor: Editor) -> None:
    editor.on_call(1, write=ORIGINAL.replace(b"old-pass", b"new-pass"), code=3)
    with pytest.raises(EditAbandonedError, match=r"\(/bin/sh\) exited with code 3"):
        editor.edit()
    assert not editor.plaintext(1).parent.exists()


def test_ctrl_c_while_the_editor_runs_is_the_editors(editor: Editor) -> None:
    editor.before_call(1, "kill -INT $PPID; sleep 0.2")
    editor.on_call(1, write=ORIGINAL.replace(b"old-pass", b"new-pass"))
    assert editor.edit() is not None
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_editor_that_cannot_start_is_a_start_error(editor: Editor, tmp_path: Path) -> None:
    with pytest.raises(ChildStartError, match="was not found") as caught:
        edit_plaintext(
            ORIGINAL,
            "app.yaml",
            command=[str(tmp_path / "no-such-editor")],
            file_type="yaml",
            environ=editor.environ,
            note=editor.notes.append,
        )
    assert caught.value.exit_code == ExitCode.COMMAND_NOT_FOUND


# -- which editor ------------------------------------------------------------


def executable(directory: Path, name: str) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_secure_up_editor_wins_over_editor_and_is_split_like_a_shell() -> None:
    environ = {"SECURE_UP_EDITOR": "'my editor' --wait", "EDITOR": "nano"}
    assert editor_command(environ) == ["my editor", "--wait"]
    assert editor_command({"SECURE_UP_EDITOR": " ", "EDITOR": "code -w"}) == ["code", "-w"]


def test_unbalanced_quotes_name_the_variable() -> None:
    with pytest.raises(UsageError, match=r"\$EDITOR cannot be split"):
        editor_command({"EDITOR": "'code"})


def test_without_a_variable_vi_then_nano_on_path(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    nano = executable(bin_dir, "nano")
    assert editor_command({"PATH": str(bin_dir)}) == [str(nano)]
    vi = executable(bin_dir, "vi")
    assert editor_command({"PATH": str(bin_dir)}) == [str(vi)]


def test_no_editor_at_all_says_how_to_name_one(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no editor found") as caught:
        editor_command({"PATH": str(tmp_path)})
    assert "EDITOR=nano" in (caught.value.fix or "")
