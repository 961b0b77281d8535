"""The error tree and the exit codes.

Every error we raise on purpose is a :class:`SecureUpError`: it knows its exit
code and says, for a person, what happened and what to do next. Messages never
contain a secret value: they name keys, files and recipients, never values.

Exit codes equal sops' where the two tools overlap, so scripts written for sops
keep working.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    #: sops' CouldNotReadInputFile: the file exists but cannot be read (a directory, a FIFO, ...).
    UNREADABLE_INPUT = 2
    #: sops' ErrorDumpingTree: the data cannot be written in the output type asked for.
    CANNOT_CONVERT = 4
    CONFIG = 5
    #: Also a file without a MAC, as in sops.
    MAC_MISMATCH = 51
    MISSING_VARIABLES = 64
    INPUT_FILE = 100
    NO_KEY = 128
    FILE_NOT_MODIFIED = 200
    ALREADY_ENCRYPTED = 203
    COMMAND_NOT_EXECUTABLE = 126
    COMMAND_NOT_FOUND = 127
    INTERRUPTED = 130


class SecureUpError(Exception):
    """Base of every error meant for the user.

    ``what`` says what went wrong, ``fix`` the next step. Neither may ever hold
    a secret value.
    """

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, what: str, fix: str | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix

    def diagnostics(self) -> str:
        text = f"error: {self.what}"
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text


class UsageError(SecureUpError):
    exit_code = ExitCode.USAGE


class InputFileError(SecureUpError):
    """A file we were asked to read is missing (or unreadable: see the subclass)."""

    exit_code = ExitCode.INPUT_FILE


class UnreadableFileError(InputFileError):
    """A file exists but cannot be read: permission denied, or not a regular file."""

    exit_code = ExitCode.UNREADABLE_INPUT


class FormatError(SecureUpError):
    """A file is not what its type says (bad YAML, a broken ENC[...] value, ...)."""


class OutputConversionError(FormatError):
    """The document cannot be written in the output type asked for (a tree as dotenv, ...)."""

    exit_code = ExitCode.CANNOT_CONVERT


class NotEncryptedError(FormatError):
    """A file we expected to be a sops file has no sops metadata."""


class AlreadyEncryptedError(SecureUpError):
    exit_code = ExitCode.ALREADY_ENCRYPTED


class IntegrityError(SecureUpError):
    """A value, the MAC or the metadata failed authentication: the file was altered."""

    exit_code = ExitCode.MAC_MISMATCH


class MacNotFoundError(IntegrityError):
    """The file has no MAC: sops exits 51 for it, as for a mismatch."""


class NoKeyError(SecureUpError):
    """No master key could open the data key, or none could be used to wrap it."""

    exit_code = ExitCode.NO_KEY


class ConfigError(SecureUpError):
    """``.sops.yaml`` is missing, malformed, or has no rule for the file."""

    exit_code = ExitCode.CONFIG


class NotModifiedError(SecureUpError):
    exit_code = ExitCode.FILE_NOT_MODIFIED
