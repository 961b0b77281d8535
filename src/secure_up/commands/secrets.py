"""``set``, ``unset``, ``rotate``, ``updatekeys`` and ``edit``: changing sops files in place.

Every command here follows one path: lock the file, read and decrypt it,
change the plaintext tree or the recipients, encrypt, write atomically, unlock
(:func:`_changing`). So a value never reaches the disk in clear (``edit``'s
plaintext lives in a private memory-backed directory and is removed on every
exit path), unchanged values keep their ciphertext (the cipher remembers IVs),
two writers never interleave, and a killed command leaves the old file or the
new one.

``rotate`` and ``updatekeys`` are easy to confuse, so both say what they do:
``rotate`` makes a new data key and re-encrypts every value (do it when a key
may have leaked, or someone left); ``updatekeys`` re-wraps the *same* data key
for the recipients ``.sops.yaml`` now names (a new colleague gets access;
someone removed can still read any copy of the old file they kept).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import BinaryIO, Final, TextIO

from secure_up.atomic import atomic_write, remove_stale_temporaries
from secure_up.config import CONFIG_FILE_NAME, CreationRule, SopsConfig, find_config, load_config
from secure_up.errors import (
    ConfigError,
    ExitCode,
    FormatError,
    InputFileError,
    NotEncryptedError,
    NotModifiedError,
    SecureUpError,
    UsageError,
)
from secure_up.extract import parse_path
from secure_up.keys.datakey import new_data_key, wrap_data_key
from secure_up.keys.pgp import GnuPG
from secure_up.keys.session import gpg_session
from secure_up.locking import lock_timeout, locked
from secure_up.private_dir import private_directory
from secure_up.shellenv import format_shell_assignment, parse_shell_env
from secure_up.sops import tree
from secure_up.sops.cipher import ValueCipher, looks_encrypted
from secure_up.sops.engine import encrypt_documents
from secure_up.sops.metadata import KeyGroup, Metadata, PgpKey
from secure_up.sops.stores import FileType, file_type_for, store_for
from secure_up.sops.stores.binary_store import DATA_KEY
from secure_up.sopsfile import DecryptedFile, EncryptedFile
from secure_up.values import Terminal, open_terminal, read_value

#: A value's place in a document: mapping keys and list indexes from the root.
KeyPath = list[str | int]

_FINGERPRINT: Final = re.compile(r"[0-9A-F]{40}|[0-9A-F]{64}")


@dataclass
class Console:
    """The command's way to the user, injectable for tests.

    ``stdin`` carries a piped value; ``stdout`` only what the user asked to
    see (a generated value with ``--show``); ``stderr`` progress and notes;
    ``terminal`` prompts and confirmations (None without a terminal).
    """

    stdin: BinaryIO | None
    stdout: TextIO
    stderr: TextIO
    terminal: Terminal | None

    @classmethod
    def system(cls) -> Console:
        stdin = sys.stdin.buffer if sys.stdin is not None else None
        return cls(stdin, sys.stdout, sys.stderr, open_terminal())

    def note(self, message: str) -> None:
        self.stderr.write(message + "\n")
        self.stderr.flush()


def _gnupg(environ: Mapping[str, str], console: Console) -> AbstractContextManager[GnuPG]:
    # gpg's pinentry talks to the terminal, not to stdin: a piped value
    # (`... | secure-up set`) must not stop a passphrase prompt.
    return gpg_session(environ, interactive=console.terminal is not None)


@contextlib.contextmanager
def _changing(
    path: Path, environ: Mapping[str, str], gpg: GnuPG, input_type: str | None
) -> Iterator[DecryptedFile]:
    """The decrypted file, read under its lock; write it back inside the block.

    A symlink is followed here, once: the real file is locked and replaced,
    and the link stays a link.
    """
    with locked(_real(path), lock_timeout(environ)):
        remove_stale_temporaries(_real(path))
        yield EncryptedFile.read(path, input_type).decrypt(gpg)


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
    value = read_value(
        key,
        stdin=console.stdin,
        terminal=console.terminal,
        generate=generate,
        length=length,
        charset=charset,
    )
    with (
        _gnupg(environ, console) as gpg,
        _changing(path, environ, gpg, input_type) as decrypted,
    ):
        document = _first_document(decrypted, path)
        if file_type == "binary":
            _set_payload(document, path, lambda text: set_shell_variable(text, key, value, path))
        else:
            assign(document, key_path, value)
        output = decrypted.encrypt()
        atomic_write(_real(path), output)
    if show:
        console.stdout.write(value + "\n")
        console.stdout.flush()
    console.note(f"{path}: set {key}")
    if file_type != "binary" and not _stored_encrypted(decrypted, output, key_path):
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
        _gnupg(environ, console) as gpg,
        _changing(path, environ, gpg, input_type) as decrypted,
    ):
        document = _first_document(decrypted, path)
        if file_type == "binary":
            _set_payload(document, path, lambda text: unset_shell_variable(text, key, path))
        else:
            remove(document, key_path, key, path)
        atomic_write(_real(path), decrypted.encrypt())
    console.note(f"{path}: removed {key}")


def parse_key(key: str, file_type: FileType) -> KeyPath:
    """``KEY`` or a sops path ``["a"]["b"]``, checked against what ``file_type`` can hold.

    INI files hold sections: a plain ``KEY`` means ``["DEFAULT"]["KEY"]`` (the
    keys above any section header). Binary files take a shell variable name.
    """
    if not key:
        raise UsageError("the key is empty", "name the key to set")
    if key.startswith("["):
        try:
            path: KeyPath = parse_path(key)
        except UsageError:
            raise UsageError(
                f"cannot read the key path {key!r}",
                """write it as sops does, e.g. '["database"]["password"]' or '["hosts"][0]'""",
            ) from None
    else:
        path = [key]
    if file_type == "ini" and len(path) == 1:
        path = ["DEFAULT", *path]
    _check_key_path(path, key, file_type)
    return path


def _check_key_path(path: KeyPath, key: str, file_type: FileType) -> None:
    top = path[0]
    if top == "sops" and file_type in ("yaml", "json", "ini"):
        raise UsageError("the top-level key `sops` holds the file's metadata", "use another key")
    if file_type == "binary" and (len(path) != 1 or not re.fullmatch(r"[A-Za-z_]\w*", str(top))):
        raise UsageError(
            f"{key!r} is not a shell variable name; a binary secrets file holds "
            "`export KEY=value` lines",
            "use letters, digits and underscores, not starting with a digit",
        )
    if file_type == "dotenv" and (
        len(path) != 1
        or not isinstance(top, str)
        or "=" in top
        or "\n" in top
        or top.startswith(("sops_", "#"))
    ):
        raise UsageError(
            f"{key!r} cannot be a dotenv key: one level, without `=`, "
            "not starting with `#` or `sops_`",
            "use a plain variable name",
        )
    if file_type == "ini" and (len(path) != 2 or not all(isinstance(p, str) for p in path)):
        raise UsageError(
            f"{key!r} is not an INI key: use KEY (section DEFAULT) or "
            """'["section"]["KEY"]'""",
            "INI files hold one level of keys per section",
        )


def _first_document(decrypted: DecryptedFile, path: Path) -> tree.Branch:
    """The document ``set`` changes: the first (a multi-document YAML file has more)."""
    if not decrypted.documents:
        raise FormatError(f"{path} holds no document", "restore it from version control")
    return decrypted.documents[0]


def _stored_encrypted(decrypted: DecryptedFile, output: bytes, key_path: KeyPath) -> bool:
    """Whether the value just written at ``key_path`` is encrypted (the rule may say not)."""
    documents, _ = decrypted.source.store.load_encrypted(output)
    node: tree.Node = documents[0]
    for component in key_path:
        node = _child(node, component)
    return not isinstance(node, str) or looks_encrypted(node)


def assign(document: tree.Branch, key_path: KeyPath, value: str) -> None:
    """Set the value at ``key_path``, creating missing mappings on the way.

    An existing key keeps its place (and the comments around it); a new key
    is appended to its mapping. List elements must exist.
    """
    parent = _parent_of(document, key_path, create=True)
    last = key_path[-1]
    if isinstance(parent, tree.Branch) and isinstance(last, str):
        parent.set(last, value)
    elif isinstance(parent, tree.Sequence) and isinstance(last, int):
        parent[_element_index(parent, last, key_path)] = value
    else:
        raise _not_a_container(key_path, len(key_path) - 1)


def remove(document: tree.Branch, key_path: KeyPath, key: str, path: Path) -> None:
    """Remove the value at ``key_path``; an error names the key when it is absent."""
    try:
        parent = _parent_of(document, key_path, create=False)
        last = key_path[-1]
        if isinstance(parent, tree.Branch) and isinstance(last, str):
            if parent.remove_key(last):
                return
        elif isinstance(parent, tree.Sequence) and isinstance(last, int):
            del parent[_element_index(parent, last, key_path)]
            return
    except UsageError:
        pass
    raise SecureUpError(
        f"{path} has no {key}; nothing was changed",
        f"check the key names with `secure-up decrypt {path}` (keys are case-sensitive)",
    )


def _parent_of(document: tree.Branch, key_path: KeyPath, *, create: bool) -> tree.Node:
    node: tree.Node = document
    for depth, component in enumerate(key_path[:-1]):
        if create and isinstance(node, tree.Branch) and isinstance(component, str):
            if node.index_of(component) < 0:
                node.append((component, tree.Branch()))
        node = _child(node, component, key_path, depth)
    return node


def _child(
    node: tree.Node, component: str | int, key_path: KeyPath | None = None, depth: int = 0
) -> tree.Node:
    if isinstance(node, tree.Branch) and isinstance(component, str):
        index = node.index_of(component)
        entry = node[index] if index >= 0 else None
        if isinstance(entry, tuple):
            return entry[1]
    elif isinstance(node, tree.Sequence) and isinstance(component, int):
        return node[_element_index(node, component, key_path or [component])]  # type: ignore[return-value]
    raise _not_a_container(key_path or [component], depth)


def _element_index(sequence: tree.Sequence, index: int, key_path: KeyPath) -> int:
    """The list position of element ``index`` (comments in a list are not elements)."""
    positions = [i for i, item in enumerate(sequence) if not isinstance(item, tree.Comment)]
    if -len(positions) <= index < len(positions):
        return positions[index]
    raise UsageError(
        f"{_format_path(key_path)}: the list has no element {index}",
        "set existing list elements only; use `secure-up edit` to add one",
    )


def _not_a_container(key_path: KeyPath, depth: int) -> UsageError:
    return UsageError(
        f"{_format_path(key_path[: depth + 1])} does not exist or does not hold "
        f"{'a list' if isinstance(key_path[depth], int) else 'a mapping'}",
        "check the key path with `secure-up decrypt FILE`",
    )


def _format_path(key_path: KeyPath) -> str:
    return "".join(f"[{c}]" if isinstance(c, int) else f'["{c}"]' for c in key_path)


# -- the shell payload of a binary file ---------------------------------------------------------


def _set_payload(document: tree.Branch, path: Path, change: Callable[[str], str]) -> None:
    payload = document.get(DATA_KEY)
    if not isinstance(payload, str):
        raise FormatError(f"{path} has no binary payload", "restore it from version control")
    document.set(DATA_KEY, change(payload))


def _shell_variables(text: str, path: Path) -> dict[str, str]:
    try:
        return parse_shell_env(text, str(path))
    except FormatError as error:
        raise FormatError(
            f"{error.what}; `set` and `unset` change binary files only when they hold "
            "`export KEY=value` lines",
            "fix the file with `secure-up edit`",
        ) from None


def _assignment_lines(lines: Sequence[str], key: str) -> list[int]:
    pattern = re.compile(rf"[ \t]*(?:export[ \t]+)?{re.escape(key)}\+?=")
    return [number for number, line in enumerate(lines) if pattern.match(line)]


def set_shell_variable(text: str, key: str, value: str, path: Path) -> str:
    """``text`` with the ``export KEY=...`` statement replaced, or appended when absent.

    Every other line stays byte-identical. The result is checked by parsing it
    as the shell would: ``KEY`` must read back as ``value`` and every other
    variable as before, else nothing is changed and the error says why.
    """
    before = _shell_variables(text, path)
    expected = {**before, key: value}
    line = format_shell_assignment(key, value)
    if key not in before:
        separator = "" if not text or text.endswith("\n") else "\n"
        candidate = f"{text}{separator}{line}\n"
        if _shell_variables(candidate, path) == expected:
            return candidate
        raise _cannot_rewrite(path, key, "appending an assignment changes other variables")
    return _replace_statement(text, key, path, expected, line)


def unset_shell_variable(text: str, key: str, path: Path) -> str:
    """``text`` without the statement that assigns ``key`` (checked as for set)."""
    before = _shell_variables(text, path)
    if key not in before:
        raise SecureUpError(
            f"{path} sets no {key}; nothing was changed",
            f"check the names with `secure-up decrypt {path}` (names are case-sensitive)",
        )
    expected = {name: value for name, value in before.items() if name != key}
    return _replace_statement(text, key, path, expected, None)


def _replace_statement(
    text: str, key: str, path: Path, expected: dict[str, str], line: str | None
) -> str:
    """Replace (or drop, when ``line`` is None) the one statement assigning ``key``.

    A statement may span lines (a quoted value with newlines): the shortest
    run of lines from the assignment whose replacement parses to ``expected``
    is the statement.
    """
    lines = text.splitlines(keepends=True)
    starts = _assignment_lines(lines, key)
    if len(starts) != 1:
        reason = (
            f"it is assigned {len(starts)} times"
            if starts
            else "it is not assigned on a line of its own"
        )
        raise _cannot_rewrite(path, key, reason)
    start = starts[0]
    for end in range(start + 1, len(lines) + 1):
        old = "".join(lines[start:end])
        new = "" if line is None else line + ("\n" if old.endswith("\n") else "")
        candidate = "".join(lines[:start]) + new + "".join(lines[end:])
        with contextlib.suppress(FormatError):
            if _shell_variables(candidate, path) == expected:
                return candidate
    raise _cannot_rewrite(
        path, key, "its line also sets other variables, or others are built from it"
    )


def _cannot_rewrite(path: Path, key: str, reason: str) -> SecureUpError:
    return SecureUpError(
        f"cannot change {key} in {path} safely: {reason}; nothing was changed",
        f"change it with `secure-up edit {path}`",
    )


# -- rotate --------------------------------------------------------------------------------------


def rotate(
    paths: Sequence[Path],
    *,
    add_pgp: Sequence[str] = (),
    rm_pgp: Sequence[str] = (),
    input_type: str | None = None,
    environ: Mapping[str, str] | None = None,
    console: Console | None = None,
) -> None:
    """Give each file a new data key: every value re-encrypted, recipients changed as asked."""
    environ = os.environ if environ is None else environ
    console = console or Console.system()
    added = [_fingerprint(fp, "--add-pgp") for fp in add_pgp]
    removed = [_fingerprint(fp, "--rm-pgp") for fp in rm_pgp]
    with _gnupg(environ, console) as gpg:
        for path in paths:
            _rotate_one(
                path,
                added,
                removed,
                gpg=gpg,
                input_type=input_type,
                environ=environ,
                console=console,
            )


def _rotate_one(
    path: Path,
    added: list[str],
    removed: list[str],
    *,
    gpg: GnuPG,
    input_type: str | None,
    environ: Mapping[str, str],
    console: Console,
) -> None:
    with _changing(path, environ, gpg, input_type) as decrypted:
        metadata = decrypted.source.metadata
        _refuse_keys_we_cannot_wrap(metadata, path)
        _change_recipients(metadata, added, removed, path)
        data_key = new_data_key()
        wrap_data_key(metadata, data_key, gpg)
        # A fresh cipher remembers no IVs: every value gets a new one.
        documents = encrypt_documents(decrypted.documents, metadata, ValueCipher(data_key))
        atomic_write(
            _real(path), decrypted.source.store.dump_encrypted(documents, metadata.to_raw())
        )
    recipients = ", ".join(key.fingerprint for key in metadata.pgp_keys)
    console.note(f"{path}: new data key, every value re-encrypted; recipients: {recipients}")


def _fingerprint(text: str, option: str) -> str:
    fingerprint = text.replace(" ", "").upper()
    if not _FINGERPRINT.fullmatch(fingerprint):
        raise UsageError(
            f"{option} {text!r} is not a full PGP fingerprint (40 or 64 hex digits)",
            "find it with `gpg --list-keys --with-colons KEY | grep ^fpr`",
        )
    return fingerprint


def _refuse_keys_we_cannot_wrap(metadata: Metadata, path: Path) -> None:
    """Other key types would keep the *old* data key: the file would no longer open for them."""
    others = sorted(
        {name for group in metadata.key_groups for name, v in group.others.items() if v}
    )
    if others:
        raise SecureUpError(
            f"{path} can also be opened with {', '.join(others)} keys, which secure-up cannot "
            "wrap a new data key for; rotating here would lock those keys out",
            f"rotate it with `sops rotate -i {path}`, or remove those keys first",
        )


def _change_recipients(
    metadata: Metadata, added: Sequence[str], removed: Sequence[str], path: Path
) -> None:
    """Apply ``--add-pgp`` (to the first key group, as sops does) and ``--rm-pgp``."""
    present = {key.fingerprint.upper() for key in metadata.pgp_keys}
    missing = [fp for fp in removed if fp not in present]
    if missing:
        raise UsageError(
            f"{', '.join(missing)} is not a recipient of {path}",
            f"list the recipients with `secure-up filestatus` or in the sops section of {path}",
        )
    for group in metadata.key_groups:
        group.pgp = [key for key in group.pgp if key.fingerprint.upper() not in removed]
    first = metadata.key_groups[0]
    first.pgp += [PgpKey(fp) for fp in added if fp not in present or fp in removed]
    empty = [number for number, group in enumerate(metadata.key_groups, 1) if group.is_empty()]
    if empty:
        raise UsageError(
            f"removing those recipients would leave key group {empty[0]} of {path} empty, "
            "and nobody could open the file",
            "add another recipient with --add-pgp in the same command",
        )


# -- updatekeys ----------------------------------------------------------------------------------


@dataclass
class RecipientChange:
    """How a file's recipients differ from what its creation rule names."""

    groups: list[KeyGroup]
    threshold: int
    added: list[tuple[int, str]] = field(default_factory=list)
    removed: list[tuple[int, str]] = field(default_factory=list)
    threshold_before: int = 0
    #: The data key must be split again (group count or threshold changed, or several
    #: groups): every recipient then gets a new share.
    resplit: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.threshold != self.threshold_before)

    def describe(self, path: Path) -> list[str]:
        several = len(self.groups) > 1
        lines = [f"{path}: recipients change"]
        lines += [f"  +{fp}" + (f" (key group {g})" if several else "") for g, fp in self.added]
        lines += [f"  -{fp}" + (f" (key group {g})" if several else "") for g, fp in self.removed]
        if self.threshold != self.threshold_before:
            lines.append(f"  shamir_threshold {self.threshold_before} -> {self.threshold}")
        return lines


def plan_recipients(metadata: Metadata, rule: CreationRule, path: Path) -> RecipientChange:
    """The key groups ``rule`` asks for, reusing the file's wrapped keys where they stay valid.

    secure-up wraps for PGP only: other master keys in the file are kept when
    the data key is not split again, and a split is refused while they exist.
    """
    wanted = [spec.pgp for spec in rule.key_groups]
    if not wanted or not all(wanted):
        raise ConfigError(
            f"the creation rule {rule.origin or ''} for {path} has a key group without PGP keys",
            "secure-up updates PGP recipients only: name pgp fingerprints in every key group "
            "(or use sops updatekeys)",
        )
    old = metadata.key_groups
    resplit = (
        len(wanted) > 1
        or len(old) != len(wanted)
        or (rule.shamir_threshold != metadata.shamir_threshold)
    )
    if resplit and any(group.others for group in old):
        raise SecureUpError(
            f"{path} has non-PGP master keys and its data key would have to be split again "
            "for the new key groups; secure-up cannot wrap the new shares for those keys",
            f"run `sops updatekeys {path}`",
        )
    change = RecipientChange(
        groups=[],
        threshold=rule.shamir_threshold,
        threshold_before=metadata.shamir_threshold,
        resplit=resplit,
    )
    for number, fingerprints in enumerate(wanted, 1):
        before = old[number - 1] if number <= len(old) else KeyGroup()
        kept = {key.fingerprint.upper(): key for key in before.pgp}
        group = KeyGroup(
            pgp=[kept.get(fp) or PgpKey(fp) for fp in fingerprints],
            others=dict(before.others),
        )
        change.groups.append(group)
        change.added += [(number, fp) for fp in fingerprints if fp not in kept]
        change.removed += [(number, fp) for fp in kept if fp not in fingerprints]
    for number, group in enumerate(old[len(wanted) :], len(wanted) + 1):
        change.removed += [(number, key.fingerprint) for key in group.pgp]
    return change


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
    with _gnupg(environ, console) as gpg:
        for path, rule in targets:
            _update_one(path, rule, yes=yes, environ=environ, console=console, gpg=gpg)


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
    gpg: GnuPG,
) -> None:
    with locked(_real(path), lock_timeout(environ)):
        remove_stale_temporaries(_real(path))
        encrypted = EncryptedFile.read(path)
        change = plan_recipients(encrypted.metadata, rule, path)
        if change.is_empty:
            console.note(f"{path}: recipients already match {rule.origin or CONFIG_FILE_NAME}")
            return
        for line in change.describe(path):
            console.note(line)
        if not yes and not _confirmed(console, f"Update the recipients of {path}?"):
            console.note(f"{path}: skipped, nothing written")
            return
        decrypted = encrypted.decrypt(gpg)
        metadata = encrypted.metadata
        metadata.key_groups = change.groups
        metadata.shamir_threshold = change.threshold
        if change.resplit:
            wrap_data_key(metadata, decrypted.data_key, gpg)
        else:
            _wrap_new_recipients(metadata.key_groups[0], decrypted.data_key, gpg)
        atomic_write(_real(path), decrypted.encrypt())
    console.note(
        f"{path}: recipients updated (same data key; run `secure-up rotate {path}` "
        "too if a removed recipient must lose access to new values)"
    )


def _wrap_new_recipients(group: KeyGroup, data_key: bytes, gpg: GnuPG) -> None:
    """Wrap the data key for recipients that have no wrapped copy yet; keep the others."""
    fresh = KeyGroup(pgp=[key for key in group.pgp if not key.enc])
    wrap_data_key(Metadata(key_groups=[fresh]), data_key, gpg)


def _confirmed(console: Console, question: str) -> bool:
    if console.terminal is None:
        raise UsageError(
            "the recipients would change and there is no terminal to confirm it",
            "review the change above, then run again with -y (--yes) to apply it",
        )
    return console.terminal.confirm(question)


# -- edit ----------------------------------------------------------------------------------------

#: Lines we put at the top of a file whose edit failed to parse; removed before parsing.
_ERROR_MARK: Final = "# secure-up: "
_FORMATS_WITH_HASH_COMMENTS: Final = ("yaml", "dotenv", "ini", "binary")
_EDIT_PREFIX: Final = "secure-up-edit-"


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
        _gnupg(environ, console) as gpg,
        _changing(path, environ, gpg, input_type) as decrypted,
    ):
        store = decrypted.source.store
        original = store.dump_plain(decrypted.documents)
        session = _EditSession(command, environ, console, file_type, original)
        with _plaintext_directory(environ) as directory:
            documents = session.run(directory / path.name)
        if documents is None:
            raise NotModifiedError(f"{path} was not modified; nothing was written", None)
        atomic_write(_real(path), decrypted.encrypt(documents))
    console.note(f"{path}: saved")


@dataclass
class _EditSession:
    """The editor loop: open, parse, and on a syntax error reopen with the message on top."""

    command: list[str]
    environ: Mapping[str, str]
    console: Console
    file_type: FileType
    original: bytes

    def run(self, plaintext: Path) -> tree.Documents | None:
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
                self.console.note(f"error in the edited text: {error.what}; reopening the editor")
                header, after_error = self._error_header(error), True

    def _parse(self, text: bytes) -> tree.Documents:
        documents = store_for(self.file_type).load_plain(text)
        if self.file_type == "binary":
            if self._original_is_shell():
                parse_shell_env(tree.from_bytes(text), "the edited file")
        elif any(_holds_metadata_key(document, self.file_type) for document in documents):
            raise FormatError(
                "the edited text has a top-level `sops` key, which holds a file's metadata",
                "rename that key",
            )
        return documents

    def _original_is_shell(self) -> bool:
        try:
            parse_shell_env(tree.from_bytes(self.original), "the file")
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
        process = subprocess.Popen([*self.command, str(plaintext)], env=dict(self.environ))  # noqa: S603 - the user's own editor
        try:
            with _interrupts_go_to_the_editor():
                code = process.wait()
        except BaseException:
            _stop(process)
            raise
        if code != 0:
            raise EditAbandonedError(
                f"the editor ({self.command[0]}) exited with code {code}; nothing was written "
                "and the plaintext was removed",
                "run `secure-up edit` again (set SECURE_UP_EDITOR or EDITOR to change editor)",
            )


def _holds_metadata_key(document: tree.Branch, file_type: FileType) -> bool:
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


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the editor we started (it may hold the plaintext open)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def _plaintext_directory(environ: Mapping[str, str]) -> Iterator[Path]:
    """A private directory whose removal no signal can cut short.

    While it exists, SIGTERM and SIGHUP raise :class:`TerminatedError`; while
    it is being removed they are blocked, and delivered (raising) afterwards.
    """
    with _termination_raises():
        holder = private_directory(environ, _EDIT_PREFIX)
        directory = holder.__enter__()
        try:
            yield directory
        finally:
            with _signals_blocked():
                holder.__exit__(None, None, None)


_ENDING_SIGNALS: Final = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _ENDING_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _termination_raises() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into an exception, so ``finally`` blocks remove the plaintext."""
    if not _in_main_thread():
        yield
        return

    def terminate(signum: int, _frame: FrameType | None) -> None:
        raise TerminatedError(
            f"stopped by {signal.Signals(signum).name}; nothing was written and the plaintext "
            "was removed",
            None,
        )

    previous = {sig: signal.signal(sig, terminate) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _interrupts_go_to_the_editor() -> Iterator[None]:
    """Ctrl-C while the editor runs belongs to the editor: we must not die under it.

    A handler (not SIG_IGN, which the editor would inherit) that does nothing.
    """
    if not _in_main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda _signum, _frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
