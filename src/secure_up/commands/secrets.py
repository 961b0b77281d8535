"""``set``, ``unset``, ``rotate``, ``updatekeys`` and ``edit``: changing sops files in place.

Every command here follows one path: lock the file, read and decrypt it,
change the plaintext tree or the recipients, encrypt, write atomically, unlock
(:func:`_changing`). So a value never reaches the disk in clear (``edit``'s
plaintext lives in a private memory-backed directory and is removed on every
exit path), unchanged values keep their ciphertext (the cipher remembers IVs),
two writers never interleave, and a killed command leaves the old file or the
new one.

The changes themselves live in sopsfile/: edits.py (a value at a key path),
shell_payload.py (the ``export`` lines of a binary file), rekey.py (a new data
key, or the same one for new recipients); and editing/edit_session.py (the
editor). Here: reading, asking, writing.

``rotate`` and ``updatekeys`` are easy to confuse, so both say what they do:
``rotate`` makes a new data key and re-encrypts every value (do it when a key
may have leaked, or someone left); ``updatekeys`` re-wraps the *same* data key
for the recipients ``.sops.yaml`` now names (a new colleague gets access;
someone removed can still read any copy of the old file they kept).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from secure_up.console import Console
from secure_up.editing.edit_session import edit_plaintext, editor_command
from secure_up.editing.values import read_value
from secure_up.errors import (
    ConfigError,
    FormatError,
    InputFileError,
    NotEncryptedError,
    NotModifiedError,
    UsageError,
)
from secure_up.keys.services import KeyServices, key_services
from secure_up.sopsfile import Branch, DecryptedFile, EncryptedFile, file_type_for
from secure_up.sopsfile.config import (
    CONFIG_FILE_NAME,
    CreationRule,
    SopsConfig,
    find_config,
    load_config,
)
from secure_up.sopsfile.edits import KeyPath, assign, parse_key, remove, stored_encrypted
from secure_up.sopsfile.recipients import Recipient
from secure_up.sopsfile.rekey import (
    plan_update,
    recipient_options,
    recipients_of,
    update_recipients,
)
from secure_up.sopsfile.rekey import rotate as rotate_data_key
from secure_up.sopsfile.shell_payload import (
    change_payload,
    set_shell_variable,
    unset_shell_variable,
)
from secure_up.system.atomic import atomic_write, remove_stale_temporaries
from secure_up.system.locking import lock_timeout, locked


def _keys(environ: Mapping[str, str], console: Console) -> AbstractContextManager[KeyServices]:
    # gpg's pinentry talks to the terminal, not to stdin: a piped value
    # (`... | secure-up set`) must not stop a passphrase prompt.
    return key_services(environ, interactive=console.terminal is not None)


@contextlib.contextmanager
def _changing(
    path: Path, environ: Mapping[str, str], keys: KeyServices, input_type: str | None
) -> Iterator[DecryptedFile]:
    """The decrypted file, read under its lock; write it back inside the block.

    A symlink is followed here, once: the real file is locked and replaced,
    and the link stays a link.
    """
    with _locked(path, environ):
        yield EncryptedFile.read(path, input_type).decrypt(keys)


@contextlib.contextmanager
def _locked(path: Path, environ: Mapping[str, str]) -> Iterator[None]:
    """``path``'s real file locked, and cleared of what a killed writer left behind."""
    with locked(_real(path), lock_timeout(environ)):
        remove_stale_temporaries(_real(path))
        yield


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


# -- set and unset ---------------------------------------------------------------------------


def set_value(
    path: Path,
    key: str,
    *,
    generate: bool = False,
    length: int | None = None,
    charset: str | None = None,
    show: bool = False,
    input_type: str | None = None,
    environ: Mapping[str, str] | None = None,
    console: Console | None = None,
) -> None:
    """Set ``key`` in ``path`` to a value read from stdin, the terminal, or generated."""
    environ = os.environ if environ is None else environ
    console = console or Console.system()
    if show and not generate:
        raise UsageError("--show only prints a generated value", "add --generate, or drop --show")
    file_type = file_type_for(path, input_type)
    key_path = parse_key(key, file_type)
    _refuse_control_characters(key_path)
    value = read_value(
        key,
        stdin=console.stdin,
        terminal=console.terminal,
        generate=generate,
        length=length,
        charset=charset,
    )
    with (
        _keys(environ, console) as keys,
        _changing(path, environ, keys, input_type) as decrypted,
    ):
        document = _first_document(decrypted, path)
        if file_type == "binary":
            change_payload(document, path, lambda text: set_shell_variable(text, key, value, path))
        else:
            assign(document, key_path, value)
        output = decrypted.encrypt()
        atomic_write(_real(path), output)
    if show:
        console.stdout.write(value + "\n")
        console.stdout.flush()
    console.note(f"{path}: set {key}")
    if file_type != "binary" and not stored_encrypted(decrypted, output, key_path):
        console.note(
            f"note: {key} is stored in clear text: the file's rule "
            f"({decrypted.source.metadata.effective_rule.kind}) leaves it unencrypted"
        )


def unset_value(
    path: Path,
    key: str,
    *,
    input_type: str | None = None,
    environ: Mapping[str, str] | None = None,
    console: Console | None = None,
) -> None:
    """Remove ``key`` from ``path``; a missing key is an error (a typo must not pass)."""
    environ = os.environ if environ is None else environ
    console = console or Console.system()
    file_type = file_type_for(path, input_type)
    key_path = parse_key(key, file_type)
    with (
        _keys(environ, console) as keys,
        _changing(path, environ, keys, input_type) as decrypted,
    ):
        document = _first_document(decrypted, path)
        if file_type == "binary":
            change_payload(document, path, lambda text: unset_shell_variable(text, key, path))
        else:
            remove(document, key_path, key, path)
        atomic_write(_real(path), decrypted.encrypt())
    console.note(f"{path}: removed {key}")


def _refuse_control_characters(key_path: KeyPath) -> None:
    """A key ``run`` could not hand on (a newline, a NUL) is refused before anything is read."""
    for component in key_path:
        if isinstance(component, str) and any(
            ord(char) < 0x20 or ord(char) == 0x7F for char in component
        ):
            raise UsageError(
                "the key contains a line break, a NUL or another control character; keys "
                "become environment variable names, which must be printable",
                "name the key with letters, digits and underscores, e.g. DB_PASSWORD",
            )


def _first_document(decrypted: DecryptedFile, path: Path) -> Branch:
    """The document ``set`` changes: the first (a multi-document YAML file has more)."""
    if not decrypted.documents:
        raise FormatError(f"{path} holds no document", "restore it from version control")
    return decrypted.documents[0]


# -- rotate --------------------------------------------------------------------------------------


def rotate(
    paths: Sequence[Path],
    *,
    add_pgp: Sequence[str] = (),
    rm_pgp: Sequence[str] = (),
    add_age: Sequence[str] = (),
    rm_age: Sequence[str] = (),
    input_type: str | None = None,
    environ: Mapping[str, str] | None = None,
    console: Console | None = None,
    add_kms: Sequence[str] = (),
    rm_kms: Sequence[str] = (),
) -> None:
    """Give each file a new data key: every value re-encrypted, recipients changed as asked."""
    environ = os.environ if environ is None else environ
    console = console or Console.system()
    added, removed = recipient_options(
        add_pgp=add_pgp,
        rm_pgp=rm_pgp,
        add_age=add_age,
        rm_age=rm_age,
        add_kms=add_kms,
        rm_kms=rm_kms,
    )
    with _keys(environ, console) as keys:
        for path in paths:
            _rotate_one(
                path,
                added,
                removed,
                keys=keys,
                input_type=input_type,
                environ=environ,
                console=console,
            )


def _rotate_one(
    path: Path,
    added: list[Recipient],
    removed: list[Recipient],
    *,
    keys: KeyServices,
    input_type: str | None,
    environ: Mapping[str, str],
    console: Console,
) -> None:
    with _changing(path, environ, keys, input_type) as decrypted:
        atomic_write(_real(path), rotate_data_key(decrypted, keys, added, removed))
    recipients = ", ".join(recipients_of(decrypted.source))
    console.note(f"{path}: new data key, every value re-encrypted; recipients: {recipients}")


# -- updatekeys ----------------------------------------------------------------------------------


def updatekeys(
    paths: Sequence[Path],
    *,
    yes: bool = False,
    config: Path | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    console: Console | None = None,
) -> None:
    """Re-wrap each file's data key for the recipients ``.sops.yaml`` names now.

    Directories are walked for sops files that a creation rule matches.
    Every change is shown and confirmed on the terminal unless ``yes``.
    """
    environ = os.environ if environ is None else environ
    console = console or Console.system()
    sops_config = _load_sops_config(cwd or Path.cwd(), config, environ)
    targets = list(_update_targets(paths, sops_config))
    if not targets:
        console.note("no sops files matched by a creation rule were found")
    with _keys(environ, console) as keys:
        for path, rule in targets:
            _update_one(path, rule, yes=yes, environ=environ, console=console, keys=keys)


def _load_sops_config(cwd: Path, config: Path | None, environ: Mapping[str, str]) -> SopsConfig:
    config_path = find_config(cwd, config, environ)
    if config_path is None:
        raise ConfigError(
            f"no {CONFIG_FILE_NAME} found in {cwd} or above: updatekeys takes the recipients "
            "from its creation rules",
            f"create {CONFIG_FILE_NAME}, or pass --config",
        )
    sops_config = load_config(config_path)
    if sops_config.creation_rules is None:
        raise ConfigError(
            f"{config_path} has no creation_rules, so it names no recipients",
            "add creation_rules with the pgp fingerprints each file is for",
        )
    return sops_config


def _update_targets(
    paths: Iterable[Path], sops_config: SopsConfig
) -> Iterator[tuple[Path, CreationRule]]:
    """Named files (every error reported), and sops files found in named directories."""
    for path in paths:
        if not path.is_dir():
            yield path, sops_config.rule_for(path)
            continue
        for file in _walk(path):
            with contextlib.suppress(ConfigError):
                rule = sops_config.rule_for(file)
                if _is_sops_file(file):
                    yield file, rule


def _walk(directory: Path) -> Iterator[Path]:
    """Files below ``directory`` in a stable order, skipping hidden directories (.git)."""
    for root, directories, files in os.walk(directory):
        directories[:] = sorted(name for name in directories if not name.startswith("."))
        for name in sorted(files):
            file = Path(root, name)
            if name != CONFIG_FILE_NAME and file.is_file() and not file.is_symlink():
                yield file


def _is_sops_file(path: Path) -> bool:
    try:
        EncryptedFile.read(path)
    except (NotEncryptedError, FormatError, InputFileError):
        return False
    return True


def _update_one(
    path: Path,
    rule: CreationRule,
    *,
    yes: bool,
    environ: Mapping[str, str],
    console: Console,
    keys: KeyServices,
) -> None:
    with _locked(path, environ):
        encrypted = EncryptedFile.read(path)
        change = plan_update(encrypted, rule)
        if change.is_empty:
            console.note(f"{path}: recipients already match {rule.origin or CONFIG_FILE_NAME}")
            return
        for line in change.describe(path):
            console.note(line)
        if not yes and not _confirmed(console, f"Update the recipients of {path}?"):
            console.note(f"{path}: skipped, nothing written")
            return
        atomic_write(_real(path), update_recipients(encrypted, change, keys))
    console.note(
        f"{path}: recipients updated (same data key; run `secure-up rotate {path}` "
        "too if a removed recipient must lose access to new values)"
    )


def _confirmed(console: Console, question: str) -> bool:
    if console.terminal is None:
        raise UsageError(
            "the recipients would change and there is no terminal to confirm it",
            "review the change above, then run again with -y (--yes) to apply it",
        )
    return console.terminal.confirm(question)


# -- edit ----------------------------------------------------------------------------------------


def edit(
    path: Path,
    *,
    input_type: str | None = None,
    environ: Mapping[str, str] | None = None,
    console: Console | None = None,
) -> None:
    """Open the plaintext of ``path`` in an editor and encrypt the result back.

    The plaintext is a 0600 file in a private memory-backed directory, removed
    on every exit path; the file stays locked while the editor is open.
    Raises :class:`NotModifiedError` (exit 200, as sops) when nothing changed.
    """
    environ = os.environ if environ is None else environ
    console = console or Console.system()
    command = editor_command(environ)
    file_type = file_type_for(path, input_type)
    with (
        _keys(environ, console) as keys,
        _changing(path, environ, keys, input_type) as decrypted,
    ):
        documents = edit_plaintext(
            decrypted.source.store.dump_plain(decrypted.documents),
            path.name,
            command=command,
            file_type=file_type,
            environ=environ,
            note=console.note,
        )
        if documents is None:
            raise NotModifiedError(f"{path} was not modified; nothing was written", None)
        atomic_write(_real(path), decrypted.encrypt(documents))
    console.note(f"{path}: saved")
