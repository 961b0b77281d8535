"""The ``edit`` session: the plaintext in a private directory, the editor loop, the signals.

The plaintext is a 0600 file in a private memory-backed directory
(private_dir.py), removed on every exit path: while it exists, SIGTERM and
SIGHUP raise :class:`TerminatedError` so that ``finally`` blocks run, and
while it is being removed no signal can cut that short. The editor runs
through :func:`secure_up.system.process.run_editor`. Text that does not parse is
reopened with the error on top, so a typo costs no work.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from secure_up.errors import ExitCode, FormatError, SecureUpError, UsageError
from secure_up.launch.shellenv import parse_shell_env
from secure_up.sopsfile import Branch, Documents, FileType, from_bytes, store_for
from secure_up.system.private_dir import private_directory, remove_orphans
from secure_up.system.process import run_editor
from secure_up.system.signals import signals_held, unwind_on_signals

#: Lines we put at the top of a file whose edit failed to parse; removed before parsing.
_ERROR_MARK: Final = "# secure-up: "
_FORMATS_WITH_HASH_COMMENTS: Final = ("yaml", "dotenv", "ini", "binary")
_EDIT_PREFIX: Final = "secure-up-edit-"
#: Our own settings (a private key, its passphrase): never in the editor's environment.
_OWN_VARIABLE_PREFIX: Final = "SECURE_UP_"
#: Other tools' variables that hold key material (sops' age keys), kept from the editor too:
#: an editor's plugins, language servers and shell escapes inherit its environment.
_KEY_MATERIAL_VARIABLES: Final = frozenset(
    {
        "SOPS_AGE_KEY",
        "SOPS_AGE_KEY_FILE",
        "SOPS_AGE_KEY_CMD",
        "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
    }
)


class EditAbandonedError(SecureUpError):
    """The editor failed, or closed without fixing an error: nothing was written."""


class TerminatedError(SecureUpError):
    """A SIGTERM or SIGHUP ended the edit; the plaintext was removed."""

    exit_code = ExitCode.INTERRUPTED


def editor_command(environ: Mapping[str, str]) -> list[str]:
    """``$SECURE_UP_EDITOR``, else ``$EDITOR``, else vi, else nano, as an argv prefix."""
    for variable in ("SECURE_UP_EDITOR", "EDITOR"):
        text = environ.get(variable, "").strip()
        if text:
            try:
                return shlex.split(text)
            except ValueError:
                raise UsageError(
                    f"${variable} cannot be split into words (unbalanced quotes)",
                    f"fix ${variable}, e.g. EDITOR='code --wait'",
                ) from None
    for fallback in ("vi", "nano"):
        found = shutil.which(fallback, path=environ.get("PATH"))
        if found:
            return [found]
    raise UsageError(
        "no editor found: $EDITOR is unset and neither vi nor nano is installed",
        "set EDITOR (or SECURE_UP_EDITOR), e.g. EDITOR=nano",
    )


def editor_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without the variables that hold keys or passphrases (as ``run`` does)."""
    return {
        name: value
        for name, value in environ.items()
        if not name.startswith(_OWN_VARIABLE_PREFIX) and name not in _KEY_MATERIAL_VARIABLES
    }


def edit_plaintext(
    original: bytes,
    name: str,
    *,
    command: Sequence[str],
    file_type: FileType,
    environ: Mapping[str, str],
    note: Callable[[str], None],
) -> Documents | None:
    """Let the user edit ``original`` (the plaintext of a ``file_type`` file) as file ``name``.

    Returns the documents of the saved text, or None when it did not change.
    ``note`` tells the user why the editor opens again after a syntax error.
    """
    session = _EditSession(list(command), editor_environment(environ), note, file_type, original)
    with _plaintext_directory(environ) as directory:
        return session.run(directory / name)


@dataclass
class _EditSession:
    """The editor loop: open, parse, and on a syntax error reopen with the message on top."""

    command: list[str]
    environ: Mapping[str, str]
    note: Callable[[str], None]
    file_type: FileType
    original: bytes

    def run(self, plaintext: Path) -> Documents | None:
        """The edited documents, or None when the text did not change."""
        text, header, after_error = self.original, b"", False
        while True:
            written = header + text
            _write_private(plaintext, written)
            self._run_editor(plaintext)
            edited = plaintext.read_bytes()
            if after_error and edited == written:
                raise EditAbandonedError(
                    "the editor was closed without fixing the error; nothing was written",
                    "run `secure-up edit` again",
                )
            text = _without_error_header(edited)
            if text == self.original:
                return None
            try:
                return self._parse(text)
            except FormatError as error:
                self.note(f"error in the edited text: {error.what}; reopening the editor")
                header, after_error = self._error_header(error), True

    def _parse(self, text: bytes) -> Documents:
        documents = store_for(self.file_type).load_plain(text)
        if self.file_type == "binary":
            if self._original_is_shell():
                parse_shell_env(from_bytes(text), "the edited file")
        elif any(_holds_metadata_key(document, self.file_type) for document in documents):
            raise FormatError(
                "the edited text has a top-level `sops` key, which holds a file's metadata",
                "rename that key",
            )
        return documents

    def _original_is_shell(self) -> bool:
        try:
            parse_shell_env(from_bytes(self.original), "the file")
        except FormatError:
            return False
        return True

    def _error_header(self, error: FormatError) -> bytes:
        """The message as comment lines at the top, where the format has ``#`` comments.

        JSON has no comments: there the message goes to stderr only.
        """
        if self.file_type not in _FORMATS_WITH_HASH_COMMENTS:
            return b""
        lines = [
            *error.what.splitlines(),
            *(error.fix or "").splitlines(),
            "save the file with the error fixed, or quit without saving to abandon the "
            "edit; these lines are removed",
        ]
        return "".join(f"{_ERROR_MARK}{line}\n" for line in lines).encode()

    def _run_editor(self, plaintext: Path) -> None:
        code = run_editor([*self.command, str(plaintext)], self.environ)
        if code != 0:
            raise EditAbandonedError(
                f"the editor ({self.command[0]}) {_how_it_ended(code)}; the file is unchanged "
                "(nothing was written) and the plaintext was removed",
                "run `secure-up edit` again (set SECURE_UP_EDITOR or EDITOR to change editor)",
            )


def _how_it_ended(returncode: int) -> str:
    """``exited with code N``, or ``was killed by signal N (SIGNAME)`` for a negative code."""
    if returncode >= 0:
        return f"exited with code {returncode}"
    number = -returncode
    try:
        name = f" ({signal.Signals(number).name})"
    except ValueError:
        name = ""
    return f"was killed by signal {number}{name}"


def _holds_metadata_key(document: Branch, file_type: FileType) -> bool:
    if file_type == "dotenv":
        return any(key.startswith("sops_") for key in document.keys())
    return document.index_of("sops") >= 0


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(data)


def _without_error_header(data: bytes) -> bytes:
    mark = _ERROR_MARK.encode()
    while data.startswith(mark):
        end = data.find(b"\n")
        data = b"" if end < 0 else data[end + 1 :]
    return data


@contextlib.contextmanager
def _plaintext_directory(environ: Mapping[str, str]) -> Iterator[Path]:
    """A private directory whose removal no signal can cut short.

    While it exists, SIGTERM and SIGHUP raise :class:`TerminatedError`; while
    it is being removed they are blocked, and delivered (raising) afterwards.
    """
    with unwind_on_signals(_terminated):
        remove_orphans(environ, _EDIT_PREFIX)  # plaintext of an edit killed with SIGKILL
        holder = private_directory(environ, _EDIT_PREFIX)
        directory = holder.__enter__()
        try:
            yield directory
        finally:
            with signals_held():
                holder.__exit__(None, None, None)


def _terminated(signum: int) -> TerminatedError:
    return TerminatedError(
        f"stopped by {signal.Signals(signum).name}; nothing was written and the plaintext "
        "was removed",
        None,
    )
