"""The gpg a command uses: the user's keyring, or a throw-away one made from a CI variable.

CI pipelines keep a private key in a secret variable. With ``SECURE_UP_GPG_KEY``
(the armored key, or base64 of it for CI systems that mask single-line values
only) or ``SECURE_UP_GPG_KEY_FILE`` set, every command imports that key into a
fresh GNUPGHOME in a private memory-backed directory, uses it, then stops that
home's gpg-agent and removes the directory: after success, an error, Ctrl-C,
SIGTERM or SIGHUP. The user's own keyring is never read or written then. A key
left behind by a run killed with SIGKILL is removed by the next run.

A passphrase comes from ``SECURE_UP_GPG_PASSPHRASE`` or
``SECURE_UP_GPG_PASSPHRASE_FILE`` and reaches gpg over a pipe (loopback
pinentry), never an argv. Without a terminal nothing waits for input: a key
whose passphrase nobody gave fails at once, naming the variable to set.

Setting both a variable and its ``_FILE`` twin is an error: guessing which one
the pipeline meant could open files with the wrong key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

from secure_up.errors import NoKeyError, UsageError
from secure_up.keys.pgp import GnuPG
from secure_up.system.regular_file import read_regular

# The ephemeral keyring's helpers (private_dir, signals, tempfile) are imported where it
# is made: the common run with the user's keyring is benchmarked and needs none of them.

KEY_VARIABLE: Final = "SECURE_UP_GPG_KEY"
KEY_FILE_VARIABLE: Final = "SECURE_UP_GPG_KEY_FILE"
PASSPHRASE_VARIABLE: Final = "SECURE_UP_GPG_PASSPHRASE"  # noqa: S105 - a variable's name
PASSPHRASE_FILE_VARIABLE: Final = "SECURE_UP_GPG_PASSPHRASE_FILE"  # noqa: S105

#: Prefix of ephemeral homes; the creator's PID follows, so a later run can
#: tell a home whose process died (SIGKILL) from one in use.
HOME_PREFIX: Final = "secure-up-gpg-"
#: Key files are a few KiB; anything much larger is the wrong file.
_MAX_KEY_FILE_SIZE: Final = 1024 * 1024
_EXPORT_HINT: Final = "gpg --export-secret-keys --armor FINGERPRINT"


@contextlib.contextmanager
def gpg_session(
    environ: Mapping[str, str], *, interactive: bool, defer_import: bool = False
) -> Iterator[GnuPG]:
    """The gpg for one command: an ephemeral keyring when a key variable is set, else the user's.

    ``interactive`` says whether a person is at a terminal who could answer a
    pinentry; when false, gpg is never allowed to ask. ``defer_import`` leaves the
    import of the key to the first use of gpg (or to a thread, see
    :mod:`secure_up.keys.early`); its errors are raised there.
    """
    key_data = _key_from(environ)
    passphrase = _passphrase_from(environ)
    if key_data is None:
        gpg_environ = _gpg_environ(environ, interactive)
        if passphrase is None:
            with _settled(GnuPG(gpg_environ, interactive=interactive)) as gpg:
                yield gpg
            return
        # The user's agent outlives us: it must not keep the key unlocked by the variable.
        from secure_up.keys.passphrase_cache import passphrases_forgotten_afterwards

        with (
            passphrases_forgotten_afterwards(gpg_environ),
            _settled(GnuPG(gpg_environ, passphrase=passphrase, interactive=interactive)) as gpg,
        ):
            yield gpg
        return
    from secure_up.system.signals import unwind_on_signals

    with unwind_on_signals(_exit_status), _ephemeral_home(environ) as home:
        gpg_environ = {**_gpg_environ(environ, interactive), "GNUPGHOME": str(home)}
        with _settled(GnuPG(gpg_environ, passphrase=passphrase, interactive=interactive)) as gpg:
            source = _key_source(environ)
            if defer_import:
                gpg.set_up_before_use(lambda: _import_secret_key(gpg, key_data, source))
            else:
                _import_secret_key(gpg, key_data, source)
            yield gpg


@contextlib.contextmanager
def _settled(gpg: GnuPG) -> Iterator[GnuPG]:
    """``gpg``, whose processes started ahead of need are all done when the block ends."""
    try:
        yield gpg
    finally:
        gpg.settle()


def ci_key(environ: Mapping[str, str]) -> tuple[bytes, str | None] | None:
    """(key material, passphrase) from the key variables, or None when none is set.

    Raises the errors :func:`gpg_session` raises for the same variables.
    """
    key_data = _key_from(environ)
    return None if key_data is None else (key_data, _passphrase_from(environ))


def key_variable_set(environ: Mapping[str, str]) -> bool:
    """Whether this run uses a key from the environment (an ephemeral keyring)."""
    return KEY_VARIABLE in environ or KEY_FILE_VARIABLE in environ


def _gpg_environ(environ: Mapping[str, str], interactive: bool) -> dict[str, str]:
    """The environment for gpg: with GPG_TTY on a terminal, so pinentry finds it."""
    gpg_environ = dict(environ)
    if interactive:
        with contextlib.suppress(OSError):
            gpg_environ["GPG_TTY"] = os.ttyname(sys.stdin.fileno())
    return gpg_environ


def _key_source(environ: Mapping[str, str]) -> str:
    if KEY_VARIABLE in environ:
        return KEY_VARIABLE
    return f"{KEY_FILE_VARIABLE} ({environ[KEY_FILE_VARIABLE]})"


def _key_from(environ: Mapping[str, str]) -> bytes | None:
    """The key material from the environment, or None when no key variable is set."""
    data = _one_of(environ, KEY_VARIABLE, KEY_FILE_VARIABLE)
    if data is None:
        return None
    source = _key_source(environ)
    if not data.strip():
        raise NoKeyError(
            f"{source} is set but empty",
            f"set it to the output of `{_EXPORT_HINT}` (or unset it to use your own keyring); "
            "in CI, check that the secret is defined for this branch or environment",
        )
    if b"-----BEGIN PGP" in data or data[0] & 0x80:  # armored, or a binary packet
        return data
    try:  # base64 of the armored key: the form CI systems that mask one-line values need
        return base64.b64decode(re.sub(rb"\s+", b"", data), validate=True)
    except (binascii.Error, ValueError):
        raise _not_a_key(source) from None


def _passphrase_from(environ: Mapping[str, str]) -> str | None:
    """The passphrase from the environment; an empty one counts as none."""
    data = _one_of(environ, PASSPHRASE_VARIABLE, PASSPHRASE_FILE_VARIABLE)
    if not data:
        return None
    source = PASSPHRASE_VARIABLE if PASSPHRASE_VARIABLE in environ else PASSPHRASE_FILE_VARIABLE
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{source} is not UTF-8 text", "save the passphrase as UTF-8") from None
    if source == PASSPHRASE_FILE_VARIABLE:  # files end with a newline that is not part of it
        text = text.removesuffix("\n").removesuffix("\r")
    if any(char in text for char in "\r\n\0"):
        raise UsageError(
            f"{source} holds a line break or NUL character, which gpg's passphrase pipe "
            "cannot carry",
            f"set {source} to the passphrase alone (a file may end with one newline)",
        )
    return text


def _one_of(environ: Mapping[str, str], variable: str, file_variable: str) -> bytes | None:
    """The value of ``variable``, or the content of the file ``file_variable`` names.

    Setting both is refused: guessing which one a pipeline meant could pick the wrong key.
    """
    if variable in environ and file_variable in environ:
        raise UsageError(
            f"both {variable} and {file_variable} are set",
            f"set only one of them (unset {file_variable} to use {variable}, or the other way)",
        )
    if variable in environ:
        return environ[variable].encode("utf-8", errors="surrogateescape")
    if file_variable not in environ:
        return None
    return _read_small_file(Path(environ[file_variable]), file_variable)


def _read_small_file(path: Path, variable: str) -> bytes:
    return read_regular(
        path,
        max_size=_MAX_KEY_FILE_SIZE,
        what=f"named by {variable}",
        fix=f"point {variable} at a regular file (in CI: the path your secret file is written "
        "to; a process substitution <(...) is a pipe: write the value to a file, or set "
        f"{variable.removesuffix('_FILE')} instead)",
        too_big=f"point {variable} at the key file itself",
    )


def _not_a_key(source: str) -> NoKeyError:
    return NoKeyError(
        f"{source} does not hold an OpenPGP key (gpg found no key in it)",
        f"set it to the whole output of `{_EXPORT_HINT}`, BEGIN and END lines included, "
        "or to base64 of it",
    )


def _import_secret_key(gpg: GnuPG, key_data: bytes, source: str) -> None:
    imported = gpg.import_keys(key_data)
    if imported.secret:
        return
    if imported.public_only:
        raise NoKeyError(
            f"{source} holds only a public key ({', '.join(imported.public_only)}); opening "
            "files needs the secret key",
            f"export the secret key instead: {_EXPORT_HINT}",
        )
    raise _not_a_key(source)


@contextlib.contextmanager
def _ephemeral_home(environ: Mapping[str, str]) -> Iterator[Path]:
    """A fresh GNUPGHOME; on exit its agent is stopped and it is removed, signals held meanwhile."""
    from secure_up.system.private_dir import private_directory, remove_orphans
    from secure_up.system.signals import signals_held

    home_stack = contextlib.ExitStack()
    try:  # entered first: a signal held below may fire the moment it is released
        with signals_held():
            remove_orphans(environ, HOME_PREFIX, lambda home: _stop_agent(home, environ))
            # A short path: gpg-agent's socket lives in it, and socket paths are short.
            home = home_stack.enter_context(private_directory(environ, prefix=HOME_PREFIX))
            home_stack.callback(_stop_agent, home, environ)
        (home / "gpg-agent.conf").write_text("allow-loopback-pinentry\n")
        yield home
    finally:
        with signals_held():
            home_stack.close()


def _stop_agent(home: Path, environ: Mapping[str, str]) -> None:
    GnuPG({**environ, "GNUPGHOME": str(home)}).stop_agent()


def _exit_status(signum: int) -> SystemExit:
    """SIGTERM or SIGHUP ends the run as a shell reports it: 128 + N."""
    return SystemExit(128 + signum)
