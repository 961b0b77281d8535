"""age master keys, natively, through pyrage (bindings to rage, the Rust age).

A file's ``age`` entry names a recipient (an X25519 ``age1...`` key, or an SSH
``ssh-ed25519`` / ``ssh-rsa`` public key) and holds the data key (or a Shamir
share) encrypted to it in age's ASCII armor, as sops writes it.

Identities are looked for where sops looks, all of them loaded:
``SOPS_AGE_KEY`` (the text of a key file), ``SOPS_AGE_KEY_FILE``,
``SOPS_AGE_KEY_CMD`` (a command whose output is a key file), the default
``$XDG_CONFIG_HOME/sops/age/keys.txt`` (``~/.config`` when unset), and SSH
private keys: ``SOPS_AGE_SSH_PRIVATE_KEY_FILE``, ``~/.ssh/id_ed25519``,
``~/.ssh/id_rsa``. Key files are hostile input: regular files only, bounded in
size, and no message ever quotes their text; it names the variable or path.
A place that fails (a missing file, a bad line) is remembered, not fatal: it
is reported only when no identity could open the file, as sops does.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from secure_up.errors import SecureUpError, UsageError
from secure_up.keys.interface import KeyContext, KeyKind, KeyUnavailable
from secure_up.sops.metadata import AgeKey, MasterKey

if TYPE_CHECKING:
    import subprocess

KEY_VARIABLE: Final = "SOPS_AGE_KEY"
KEY_FILE_VARIABLE: Final = "SOPS_AGE_KEY_FILE"
KEY_COMMAND_VARIABLE: Final = "SOPS_AGE_KEY_CMD"
SSH_KEY_FILE_VARIABLE: Final = "SOPS_AGE_SSH_PRIVATE_KEY_FILE"
#: Variables that hold or lead to age secret keys: never handed on to a child.
SECRET_VARIABLES: Final = (KEY_VARIABLE, KEY_FILE_VARIABLE, KEY_COMMAND_VARIABLE)
#: A key file larger than this is not a key file (keys.txt with thousands of keys is ~1 MiB).
MAX_KEY_FILE_SIZE: Final = 1 << 20
#: Seconds SOPS_AGE_KEY_CMD may take (it may wait for a password manager's unlock).
KEY_COMMAND_TIMEOUT: Final = 120.0

_SECRET_KEY_PREFIX: Final = "AGE-SECRET-KEY-1"  # noqa: S105 - a prefix, not a key
_PLUGIN_PREFIX: Final = "AGE-PLUGIN-"
#: How an age-encrypted (passphrase-protected) identity file starts, binary or armored.
_ENCRYPTED_FILE_STARTS: Final = ("age-encryption.org/", "-----BEGIN AGE ENCRYPTED FILE-----")
_SSH_TYPES: Final = ("ssh-ed25519", "ssh-rsa")

#: Runs SOPS_AGE_KEY_CMD's argv: the process module's ``capture`` (injected for tests).
RunCommand = Callable[[Sequence[str], Mapping[str, str]], "subprocess.CompletedProcess[bytes]"]


class AgeIdentity(NamedTuple):
    """A secret key we hold: its public recipient, where it came from, and the parsed key."""

    recipient: str
    source: str
    #: A pyrage identity; its repr names only its type.
    handle: Any

    def __repr__(self) -> str:
        return f"AgeIdentity({self.recipient!r}, source={self.source!r})"

    def describe(self) -> str:
        return f"{self.recipient} ({self.source})"

    def matches(self, recipient: str) -> bool:
        return same_recipient(self.recipient, recipient)


class LoadedIdentities(NamedTuple):
    identities: list[AgeIdentity]
    #: The places looked in, in order, for messages (names and paths only).
    places: list[str]
    #: Why some place gave no identities (never its text).
    problems: list[str]


class IdentityError(Exception):
    """A place held something that is not an identity we can use; says which, never the text."""


def same_recipient(a: str, b: str) -> bool:
    """Whether two recipients are the same key: age1 case-insensitively, SSH without comments."""
    return _normal_recipient(a) == _normal_recipient(b)


def _normal_recipient(recipient: str) -> str:
    recipient = recipient.strip()
    if recipient.startswith(_SSH_TYPES):
        return " ".join(recipient.split()[:2])
    return recipient.lower()


# -- identities -----------------------------------------------------------------------------------


def parse_identities(text: str, source: str) -> list[AgeIdentity]:
    """The X25519 identities of a key file's text, as age reads it: one a line, ``#`` comments.

    Raises :class:`IdentityError` naming ``source`` and the line number (never its text).
    """
    import pyrage

    if text.lstrip().startswith(_ENCRYPTED_FILE_STARTS):
        raise IdentityError(
            f"{source} is a passphrase-protected age identity file, which secure-up cannot "
            "unlock; decrypt it (age -d) into SOPS_AGE_KEY, or use sops for this file"
        )
    identities = []
    for number, raw_line in enumerate(text.splitlines(), 1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(_PLUGIN_PREFIX):
            raise IdentityError(
                f"line {number} of {source} is an age plugin identity, which secure-up does not "
                "support; use sops for files of plugin recipients"
            )
        if not line.startswith(_SECRET_KEY_PREFIX):
            raise IdentityError(
                f"line {number} of {source} is not an age identity (AGE-SECRET-KEY-1...)"
            )
        try:
            handle = pyrage.x25519.Identity.from_str(line)
        except pyrage.IdentityError:
            raise IdentityError(f"line {number} of {source} is a damaged age identity") from None
        identities.append(AgeIdentity(str(handle.to_public()), source, handle))
    return identities


def parse_ssh_identity(data: bytes, source: str) -> AgeIdentity:
    """An SSH private key (ed25519 or RSA, OpenSSH or PEM format) as an age identity."""
    import pyrage
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    openssh = serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    try:
        if b"-----BEGIN OPENSSH PRIVATE KEY-----" in data:
            public = (
                serialization.load_ssh_private_key(data, None).public_key().public_bytes(*openssh)
            )
        else:
            public = (
                serialization.load_pem_private_key(data, None).public_key().public_bytes(*openssh)
            )
    except TypeError:  # cryptography's word for "needs a password"
        raise IdentityError(
            f"{source} is a passphrase-protected SSH key, which secure-up cannot unlock; point "
            f"{SSH_KEY_FILE_VARIABLE} at a copy without a passphrase (on a tmpfs), or use an "
            "age key"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise IdentityError(f"{source} is not an SSH private key secure-up can read") from None
    recipient = public.decode()
    if not recipient.startswith(_SSH_TYPES):
        raise IdentityError(
            f"{source} is a {recipient.split()[0]} key; age takes only ssh-ed25519 and ssh-rsa keys"
        )
    try:
        handle = pyrage.ssh.Identity.from_buffer(data)
    except pyrage.IdentityError:
        raise IdentityError(f"{source} is an SSH key age cannot use") from None
    return AgeIdentity(recipient, source, handle)


def read_key_file(path: Path, source: str) -> bytes:
    """A key file's bytes: a regular file of at most :data:`MAX_KEY_FILE_SIZE` bytes."""
    try:
        # O_NONBLOCK: opening a FIFO someone put there must not hang us.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise IdentityError(f"cannot open {source}: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise IdentityError(f"{source} is not a regular file")
        if info.st_size > MAX_KEY_FILE_SIZE:
            raise _too_large(source)
        chunks = []
        size = 0
        while size <= MAX_KEY_FILE_SIZE and (chunk := os.read(fd, MAX_KEY_FILE_SIZE + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    except OSError as error:
        raise IdentityError(f"cannot read {source}: {error.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_KEY_FILE_SIZE:
        raise _too_large(source)
    return data


def _too_large(source: str) -> IdentityError:
    return IdentityError(f"{source} is larger than {MAX_KEY_FILE_SIZE} bytes: not a key file")


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise IdentityError(f"{source} is not text: not an age key file") from None


def default_key_file(environ: Mapping[str, str]) -> Path | None:
    """``sops/age/keys.txt`` in the user config directory, as Go's ``os.UserConfigDir`` finds it."""
    config_home = environ.get("XDG_CONFIG_HOME")
    if config_home:
        return Path(config_home) / "sops" / "age" / "keys.txt"
    home = environ.get("HOME")
    return Path(home) / ".config" / "sops" / "age" / "keys.txt" if home else None


def ensure_identity_file(path: Path) -> tuple[str, bool]:
    """The recipient of the first identity in ``path``, made there first if it is missing.

    A new identity is written as ``age-keygen`` writes one (a comment with its
    public key, then the secret), mode 0600 from the start (``O_EXCL``: an
    existing file is never replaced), in a directory only its owner can enter.
    Returns the recipient and whether the file was created.
    """
    if path.exists():
        source = str(path)
        try:
            identities = parse_identities(_decode(read_key_file(path, source), source), source)
        except IdentityError as error:
            raise SecureUpError(str(error), f"fix or move {path}") from None
        if not identities:
            raise SecureUpError(f"{source} holds no age identity", f"fix or move {path}")
        return identities[0].recipient, False
    from datetime import UTC, datetime

    import pyrage

    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    created = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    text = f"# created: {created}\n# public key: {recipient}\n{identity}\n"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    return recipient, True


def load_identities(environ: Mapping[str, str], run_command: RunCommand) -> LoadedIdentities:
    """Every identity of every place sops looks in, in sops' order of places."""
    loaded = LoadedIdentities([], [], [])

    def take(source: str, load: Callable[[], list[AgeIdentity]]) -> None:
        loaded.places.append(source)
        try:
            loaded.identities.extend(load())
        except IdentityError as error:
            loaded.problems.append(str(error))

    text = environ.get(KEY_VARIABLE)
    if text is not None:
        take(KEY_VARIABLE, lambda: parse_identities(text, KEY_VARIABLE))
    key_file = environ.get(KEY_FILE_VARIABLE)
    if key_file is not None:
        source = f"{KEY_FILE_VARIABLE} ({key_file})"
        take(source, lambda: _key_file_identities(Path(key_file), source))
    command = environ.get(KEY_COMMAND_VARIABLE)
    if command is not None:
        take(KEY_COMMAND_VARIABLE, lambda: _command_identities(command, environ, run_command))
    default = default_key_file(environ)
    if default is not None and (default.exists() or default.is_symlink()):
        take(str(default), lambda: _key_file_identities(default, str(default)))
    elif default is not None:
        loaded.places.append(str(default))
    ssh_file = environ.get(SSH_KEY_FILE_VARIABLE)
    if ssh_file is not None:
        source = f"{SSH_KEY_FILE_VARIABLE} ({ssh_file})"
        take(source, lambda: _ssh_identities(Path(ssh_file), source))
    home = environ.get("HOME")
    for name in ("id_ed25519", "id_rsa") if home else ():
        path = Path(home or "") / ".ssh" / name
        if path.exists():
            take(str(path), functools.partial(_ssh_identities, path, str(path)))
        else:
            loaded.places.append(str(path))
    return loaded


def _ssh_identities(path: Path, source: str) -> list[AgeIdentity]:
    return [parse_ssh_identity(read_key_file(path, source), source)]


def _key_file_identities(path: Path, source: str) -> list[AgeIdentity]:
    return parse_identities(_decode(read_key_file(path, source), source), source)


def _command_identities(
    command: str, environ: Mapping[str, str], run_command: RunCommand
) -> list[AgeIdentity]:
    """The identities SOPS_AGE_KEY_CMD prints; its output is never shown, only its exit code."""
    try:
        import shlex  # only for a key command: not on every run's start-up

        argv = shlex.split(command)
    except ValueError:
        raise IdentityError(
            f"{KEY_COMMAND_VARIABLE} is not a command line (unbalanced quotes)"
        ) from None
    if not argv:
        raise IdentityError(f"{KEY_COMMAND_VARIABLE} is empty")
    # Never hand the command our own secret variables it does not need.
    env = {name: value for name, value in environ.items() if name != KEY_VARIABLE}
    result = run_command(argv, env)
    if result.returncode != 0:
        raise IdentityError(
            f"{KEY_COMMAND_VARIABLE} ({argv[0]}) exited {result.returncode}; run it yourself "
            "to see why"
        )
    if len(result.stdout) > MAX_KEY_FILE_SIZE:
        raise IdentityError(f"{KEY_COMMAND_VARIABLE} printed more than a key file holds")
    return parse_identities(_decode(result.stdout, KEY_COMMAND_VARIABLE), KEY_COMMAND_VARIABLE)


def _capture(argv: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[bytes]:
    from secure_up.system.process import capture  # the one module that spawns programs

    return capture(argv, env=env, timeout=KEY_COMMAND_TIMEOUT)


# -- recipients ---------------------------------------------------------------------------------


def parse_recipient(recipient: str) -> Any:
    """A pyrage recipient for an ``age1...`` or SSH public key; UsageError names what is wrong."""
    import pyrage

    recipient = recipient.strip()
    try:
        if recipient.startswith("age1") and recipient.count("1") > 1:
            raise UsageError(
                f"{recipient} is an age plugin recipient, which secure-up does not support",
                "use sops for files of plugin recipients",
            )
        if recipient.startswith("age1"):
            return pyrage.x25519.Recipient.from_str(recipient)
        if recipient.startswith(_SSH_TYPES):
            return pyrage.ssh.Recipient.from_str(recipient)
    except pyrage.RecipientError:
        raise UsageError(
            f"{recipient} is not a valid age recipient",
            "copy it again from `age-keygen -y KEYFILE` (or the SSH .pub file)",
        ) from None
    raise UsageError(
        f"{recipient!r} is not an age recipient (age1..., ssh-ed25519 ... or ssh-rsa ...)",
        "get it with `age-keygen -y KEYFILE`, or from an SSH public key file",
    )


class AgeService:
    """The age key service: identities from sops' places, loaded once, on first need."""

    kind = "age"

    def __init__(self, context: KeyContext, run_command: RunCommand = _capture) -> None:
        self._environ = context.environ
        self._run_command = run_command
        self._loaded: LoadedIdentities | None = None

    def __repr__(self) -> str:
        return "AgeService()"

    @property
    def loaded(self) -> LoadedIdentities:
        if self._loaded is None:
            self._loaded = load_identities(self._environ, self._run_command)
        return self._loaded

    def holders(self, key: MasterKey) -> list[AgeIdentity]:
        """Our identities for ``key``'s recipient."""
        return [identity for identity in self.loaded.identities if identity.matches(key.identifier)]

    def open(self, key: MasterKey) -> bytes:
        import pyrage

        loaded = self.loaded
        # sops tries every identity; ours name their recipient, so the right one goes first.
        holders = self.holders(key)
        candidates = holders or loaded.identities
        if not candidates:
            raise KeyUnavailable(self._reason("no age identity found"), None)
        try:
            handles = [identity.handle for identity in candidates]
            data_key = pyrage.decrypt(key.enc.encode(), handles)
        except pyrage.DecryptError:
            if holders:
                reason = (
                    f"the identity from {holders[0].source} is this recipient's but could not "
                    "decrypt its data key (the enc field is damaged)"
                )
            else:
                reason = "none of the age identities found is this recipient's"
            raise KeyUnavailable(self._reason(reason), None) from None
        return bytes(data_key)

    def _reason(self, reason: str) -> str:
        problems = self.loaded.problems
        return reason + ("" if not problems else " (" + "; ".join(problems) + ")")

    def wrap(self, key: MasterKey, data_key: bytes) -> None:
        import pyrage

        recipient = parse_recipient(key.identifier)
        # pyrage writes age's armor exactly as sops does (64-column base64, final newline).
        key.enc = pyrage.encrypt(data_key, [recipient], armored=True).decode("ascii")

    def identities(self) -> list[str]:
        return [identity.describe() for identity in self.loaded.identities]

    def where(self) -> str:
        return "age identities in " + ", ".join(self.loaded.places)


def new_key(recipient: str) -> AgeKey:
    recipient = recipient.strip()
    parse_recipient(recipient)  # refuse a bad recipient now, as sops does
    return AgeKey(recipient=recipient)


KIND: Final = KeyKind("age", AgeService, new_key)
