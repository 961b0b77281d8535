"""PGP master keys, through the real gpg (python-gnupg).

gpg opens and wraps the 32-byte data key; nothing else of a file ever reaches
it. The data key travels over gpg's stdin and stdout, never an argv. gpg is
found through ``SOPS_GPG_EXEC`` or on ``PATH``; ``GNUPGHOME`` is honoured.
Without a terminal gpg is told never to ask for a passphrase, so a CI run
fails fast instead of hanging on a pinentry.

When gpg fails, its status lines (never the plaintext) say why; we turn them
into a reason a person can act on: a missing secret key, a passphrase that is
wrong or was never given, an agent that cannot start, or a message written
with GnuPG 2.3's AEAD packets that GnuPG 2.2 cannot read.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol

from secure_up.errors import SecureUpError
from secure_up.keys.interface import KeyContext, KeyKind, KeyUnavailable
from secure_up.keys.prestart import which
from secure_up.sops.metadata import MasterKey, PgpKey

if TYPE_CHECKING:
    # At run time subprocess is imported where gpg is run: a data key opened by the gpg
    # started before any import (keys/prestart.py) needs no subprocess module (3 ms).
    import subprocess

    class _Running(Protocol):
        """A gpg started ahead of need: a Popen, or one spawned at start-up (keys/prestart.py)."""

        def communicate(self) -> tuple[bytes, bytes]: ...


#: Our own variables (a private key, a passphrase): never handed on to gpg,
#: whose agent would keep them in its environment for as long as it lives.
PRIVATE_VARIABLE_PREFIX: Final = "SECURE_UP_GPG_"
#: Seconds we give gpgconf to start or stop an agent.
AGENT_TIMEOUT: Final = 10.0
#: The longest path a Unix socket may have on Linux (sun_path minus its NUL).
_MAX_SOCKET_PATH: Final = 107
_PASSPHRASE_HINT: Final = "set SECURE_UP_GPG_PASSPHRASE (or SECURE_UP_GPG_PASSPHRASE_FILE)"  # noqa: S105

# libgpg-error codes (the low 16 bits of the numbers in ERROR status lines).
_GPG_ERR_BAD_PASSPHRASE: Final = 11
_GPG_ERR_NO_PIN_ENTRY: Final = 85
_GPG_ERR_CANCELED: Final = 99
# OpenPGP packet tags of encrypted data that GnuPG 2.2 cannot read.
_TAG_OCB_ENCRYPTED: Final = 20  # GnuPG 2.3+/LibrePGP AEAD (OCB) packet
_TAG_SEIPD: Final = 18  # version 2 (RFC 9580 AEAD) is unknown to GnuPG 2.2
_IMPORTED_SECRET: Final = 16  # IMPORT_OK flag: the key holds secret key material
#: The sockets a gpg-agent makes in a home; any other (dirmngr, keyboxd) needs gpgconf.
_AGENT_SOCKETS: Final = frozenset(
    {"S.gpg-agent", "S.gpg-agent.extra", "S.gpg-agent.browser", "S.gpg-agent.ssh"}
)


class SecretKey(NamedTuple):
    """A secret key gpg holds: its primary fingerprint, subkeys and user ids.

    This module's records are NamedTuples: a frozen dataclass costs about 0.5 ms to
    define, at the start of every command that opens a file.
    """

    fingerprint: str
    subkeys: tuple[str, ...]
    uids: tuple[str, ...]

    def matches(self, fingerprint: str) -> bool:
        wanted = fingerprint.upper()
        return any(fp.endswith(wanted) for fp in (self.fingerprint, *self.subkeys))

    def describe(self) -> str:
        uid = self.uids[0] if self.uids else "no user id"
        return f"{self.fingerprint} ({uid})"


class ImportedKeys(NamedTuple):
    """What an import brought in: fingerprints of secret keys, and of public-only keys."""

    secret: tuple[str, ...]
    public_only: tuple[str, ...]


class PgpError(KeyUnavailable):
    """gpg could not open or wrap a data key, or could not start its agent."""


class GnuPG:
    """The gpg binary, configured once from an environment mapping."""

    def __init__(
        self,
        environ: Mapping[str, str],
        *,
        passphrase: str | None = None,
        interactive: bool = False,
    ) -> None:
        binary = environ.get("SOPS_GPG_EXEC") or "gpg"
        resolved = which(binary, environ.get("PATH"))
        if resolved is None:
            raise SecureUpError(
                f"cannot find the gpg program ({binary!r})",
                "install GnuPG (Debian: apt-get install gnupg) or point SOPS_GPG_EXEC at it",
            )
        self._binary = resolved
        self._home = environ.get("GNUPGHOME") or None
        self._env = {
            name: value
            for name, value in environ.items()
            if not name.startswith(PRIVATE_VARIABLE_PREFIX)
        }
        self._passphrase = passphrase
        self._interactive = interactive
        self._gpg: Any = None
        #: Work that must precede every use (importing the CI key), run at first need.
        self._setup: Callable[[], None] | None = None
        #: A thread doing that work ahead of need, while Python loads the rest of secure-up.
        self._worker: Any = None
        self._worker_error: BaseException | None = None
        #: gpg --decrypt processes started ahead of need, by the message they were given.
        self._pending: dict[str, _Running] = {}

    def __repr__(self) -> str:
        return f"GnuPG(binary={self._binary!r}, home={self._home!r})"

    @property
    def home(self) -> str:
        return self._home or os.path.join(self._env.get("HOME", "~"), ".gnupg")

    @property
    def version(self) -> tuple[int, ...]:
        """gpg's version, e.g. ``(2, 2, 40)``."""
        return tuple(self._handle().version or ())

    def set_up_before_use(self, setup: Callable[[], None]) -> None:
        """Run ``setup`` before the first use of gpg (it may raise; then every use does)."""
        self._setup = setup

    def prepare_in_background(self, messages: Iterable[str]) -> None:
        """Start the set-up, then gpg on ``messages``, in a thread: ready when first needed.

        The first use of gpg (and :meth:`settle`) waits for the thread; a message
        asked for later gets the output of the process started here for it.
        """
        wanted = [armored for armored in messages if armored not in self._pending]
        if not wanted and self._setup is None:
            return  # every one was started before the imports (adopt_prestarted): no thread
        import threading

        def work() -> None:
            try:
                self._run_setup()
                for armored in wanted:
                    if armored not in self._pending:
                        self._pending[armored] = self._start_decrypt(armored)
            except BaseException as error:
                self._worker_error = error

        self._worker = threading.Thread(target=work, name="gpg-prepare", daemon=True)
        self._worker.start()

    def adopt_prestarted(self) -> None:
        """Take the gpg processes the entry point started with exactly our argv and environment."""
        from secure_up.keys import prestart

        if self._passphrase is None and not self._interactive:
            args, _stdin = self._decrypt_call("")
            for armored, started in prestart.take([*self._argv(), *args], self._env).items():
                self._pending.setdefault(armored, started)

    def settle(self) -> None:
        """Wait for everything started ahead of need: nothing of ours runs gpg after this.

        Called before the agent of an ephemeral home is stopped: a gpg still running
        would start it again.
        """
        if self._worker is not None:
            self._worker.join()
            self._worker = None
        for process in self._pending.values():
            process.communicate()
        self._pending.clear()

    def _ready(self) -> None:
        if self._worker is not None:
            self._worker.join()
            self._worker = None
        if self._worker_error is not None:
            raise self._worker_error
        self._run_setup()

    def _run_setup(self) -> None:
        setup, self._setup = self._setup, None
        if setup is not None:
            try:
                setup()
            except BaseException as error:
                self._worker_error = error  # every later use fails the same way
                raise

    def _handle(self) -> Any:
        self._ready()
        if self._gpg is None:
            import logging

            import gnupg  # imported on first use: start-up stays lean

            # python-gnupg logs gpg's status lines, and the first bytes of imported key
            # data, at DEBUG; keep them out of any log a host application may have set up.
            logging.getLogger("gnupg").setLevel(logging.WARNING)

            options = []
            if not self._interactive and self._passphrase is None:
                # Never wait for a pinentry nobody can answer.
                options = ["--pinentry-mode", "error"]
            self._gpg = gnupg.GPG(
                gpgbinary=self._binary, gnupghome=self._home, env=self._env, options=options
            )
            self._gpg.encoding = "utf-8"
        return self._gpg

    def _argv(self) -> list[str]:
        argv = [self._binary, "--status-fd", "2", "--no-tty", "--no-verbose", "--batch"]
        return [*argv, "--homedir", self._home] if self._home else argv

    def _run(self, args: list[str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
        """gpg with ``args``, fed ``stdin``; status lines on stderr, as python-gnupg has them.

        The hot path (opening a data key, importing the CI key) calls gpg directly:
        python-gnupg would first import itself and run ``gpg --version`` (see
        CONTRIBUTING.md, "Speed"). The options are python-gnupg's own, so gpg behaves
        the same; secrets travel on stdin only.
        """
        import subprocess

        # gpg's tools are the key subsystem's own: run here, not through process.py.
        return subprocess.run(  # noqa: S603 - a fixed program; the data goes over stdin
            [*self._argv(), *args],
            input=stdin,
            env=self._env,
            capture_output=True,
            check=False,
        )

    def _decrypt_call(self, armored: str) -> tuple[list[str], bytes]:
        """gpg's options and stdin to decrypt ``armored``."""
        stdin = armored.encode("utf-8")
        if self._passphrase is not None:
            # gpg reads the passphrase's line from fd 0, then the message.
            options = ["--pinentry-mode", "loopback", "--passphrase-fd", "0"]
            stdin = self._passphrase.encode("utf-8") + b"\n" + stdin
        elif not self._interactive:
            options = ["--pinentry-mode", "error"]  # never wait for a pinentry nobody can answer
        else:
            options = []
        return [*options, "--decrypt"], stdin

    def _start_decrypt(self, armored: str) -> _Running:
        """gpg decrypting ``armored``, started; its output is bounded (keys/prestart.py).

        A data key's message is a few KiB and opens to 32 bytes; a hostile one may be
        large (it would not fit the pipe) or decompress to gigabytes: the first is
        refused here, the second stopped by the reader.
        """
        from secure_up.keys import prestart

        args, stdin = self._decrypt_call(armored)
        if len(stdin) > prestart.MAX_STDIN:
            raise PgpError(
                f"a PGP entry of the file holds {len(armored)} bytes, where a data key's "
                "message holds a few thousand: the file was altered",
                "restore it from version control",
            )
        return prestart.spawn([*self._argv(), *args], dict(self._env), stdin)

    def decrypt(self, armored: str) -> bytes:
        """The plaintext of an armored PGP message (a data key or a share)."""
        self._ready()
        started = self._pending.pop(armored, None)
        if started is None:
            started = self._start_decrypt(armored)
        stdout, stderr_bytes = started.communicate()
        stderr = stderr_bytes.decode("utf-8", errors="replace")
        if "[GNUPG:] DECRYPTION_OKAY" not in stderr or not stdout:
            raise PgpError(self._decrypt_failure(stderr, armored), None)
        return stdout

    def encrypt(self, data: bytes, fingerprint: str) -> str:
        """``data`` wrapped for ``fingerprint``, ASCII-armored, as sops stores it."""
        result = self._handle().encrypt(
            data,
            [fingerprint],
            armor=True,
            always_trust=True,
            extra_args=["--no-encrypt-to", "--no-default-recipient"],
        )
        if not result.ok:
            reason, fix = self._encrypt_failure(result.stderr or "", fingerprint)
            raise PgpError(f"gpg could not encrypt to {fingerprint}: {reason}", fix)
        armored: str = str(result).rstrip("\n")
        return armored

    def secret_keys(self) -> list[SecretKey]:
        """The secret keys this keyring holds (for diagnostics and doctor)."""
        keys = []
        for entry in self._handle().list_keys(secret=True):
            subkeys = tuple(sub[2] for sub in entry.get("subkeys", []) if len(sub) > 2 and sub[2])
            keys.append(SecretKey(entry["fingerprint"], subkeys, tuple(entry.get("uids", []))))
        return keys

    def import_keys(self, key_data: bytes) -> ImportedKeys:
        """Import keys (armored or binary) over gpg's stdin; never an argv.

        A passphrase-protected secret key is imported as it is: gpg needs the
        passphrase only when the key is used.
        """
        status = self._run(["--import"], key_data).stderr.decode("utf-8", errors="replace")
        # [GNUPG:] IMPORT_OK <reason flags> <fingerprint>, one line per key imported.
        imported = [
            (match[2], int(match[1]))
            for match in re.finditer(r"^\[GNUPG:\] IMPORT_OK (\d+) ([0-9A-F]+)", status, re.M)
        ]
        secret = {fingerprint for fingerprint, flags in imported if flags & _IMPORTED_SECRET}
        public_only = {fingerprint for fingerprint, _ in imported} - secret
        return ImportedKeys(tuple(sorted(secret)), tuple(sorted(public_only)))

    def start_agent(self) -> None:
        """Start (or find) this home's gpg-agent; say why when it will not start."""
        self._ready()
        if self._gpgconf("--launch", "gpg-agent").returncode != 0:
            raise PgpError(*self._agent_failure())

    def stop_agent(self) -> None:
        """Stop every daemon of this home and remove its socket directory.

        Only for homes we made: it would also stop the agent of the user's
        desktop session.
        """
        if self._kill_agent_in_home():
            return
        self._gpgconf("--kill", "all")
        self._gpgconf("--remove-socketdir")

    def _kill_agent_in_home(self) -> bool:
        """KILLAGENT over the agent's socket in this home; False when gpgconf must do it.

        ``gpgconf --kill all`` runs gpg-connect-agent three times (dirmngr, scdaemon,
        agent) and ``--remove-socketdir`` once more: four programs for what one line on
        the agent's socket does. Only when the home holds the agent's sockets and no
        other daemon's, and no per-user socket directory (/run/user/UID) could hold
        them instead; else gpgconf, which knows every layout.
        """
        if any(os.path.isdir(f"{base}/{os.getuid()}") for base in ("/run/user", "/var/run/user")):
            return False
        try:
            sockets = {name for name in os.listdir(self.home) if name.startswith("S.")}
        except OSError:
            return False
        if not sockets <= _AGENT_SOCKETS:
            return False
        path = os.path.join(self.home, "S.gpg-agent")
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return True  # no agent was started here
        except OSError:
            return False
        if not stat.S_ISSOCK(mode):  # an Assuan redirect file: gpgconf follows it
            return False
        return _assuan_command(path, b"KILLAGENT")

    def _gpgconf(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        """gpgconf for this home, with a timeout: an agent that hangs must not hang us."""
        import subprocess

        sibling = Path(self._binary).with_name("gpgconf")
        gpgconf = str(sibling) if sibling.is_file() else which("gpgconf", self._env.get("PATH"))
        if gpgconf is None:
            return subprocess.CompletedProcess(args, 127, b"", b"gpgconf not found")
        home = ["--homedir", self._home] if self._home else []
        # gpg's tools are the key subsystem's own: run here, not through process.py.
        try:
            return subprocess.run(  # noqa: S603 - a fixed program and options
                [gpgconf, *home, *args],
                env=self._env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=AGENT_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(args, 124, b"", b"gpgconf timed out")

    def _agent_failure(self) -> tuple[str, str]:
        if not os.path.isdir(self.home):
            return (
                f"gpg-agent cannot start: there is no keyring at {self.home}",
                "import your secret key (gpg --import KEYFILE creates the keyring), point "
                "GNUPGHOME at your keyring, or in CI set SECURE_UP_GPG_KEY",
            )
        socket = self._gpgconf("--list-dirs", "agent-socket").stdout.decode().strip()
        socket = socket or os.path.join(self.home, "S.gpg-agent")
        # The longest socket the agent makes is S.gpg-agent.browser, next to this one.
        if len(socket) + len(".browser") > _MAX_SOCKET_PATH:
            return (
                f"gpg-agent cannot start: its socket path {socket}.browser is longer than the "
                f"{_MAX_SOCKET_PATH} characters a Unix socket allows",
                "use a GNUPGHOME with a shorter path (or set SECURE_UP_GPG_KEY: secure-up then "
                "makes a short one)",
            )
        return (
            f"gpg-agent for {self.home} cannot start",
            f"run `gpgconf --homedir {self.home} --launch gpg-agent` and `gpg-agent --homedir "
            f"{self.home} --daemon` to see why (a stale lock, a full disk, a wrong "
            "agent-program in gpg.conf)",
        )

    def _decrypt_failure(self, stderr: str, armored: str) -> str:
        """A one-line reason, with its fix, from gpg's stderr and status lines."""
        codes = {int(code) & 0xFFFF for code in re.findall(r"ERROR pkdecrypt_failed (\d+)", stderr)}
        if "can't connect to the agent" in stderr or "failed to start agent" in stderr:
            what, fix = self._agent_failure()
            return f"{what}; fix: {fix}"
        if _GPG_ERR_BAD_PASSPHRASE in codes:
            if self._passphrase is not None:
                return (
                    f"the passphrase given is wrong for this key; fix: {_PASSPHRASE_HINT} "
                    "to this key's passphrase"
                )
            return "the passphrase typed is wrong"
        if _GPG_ERR_CANCELED in codes:
            return "the passphrase prompt was cancelled"
        if _GPG_ERR_NO_PIN_ENTRY in codes or "Inappropriate ioctl" in stderr:
            return (
                "the key needs a passphrase and no terminal can ask for it; "
                f"fix: {_PASSPHRASE_HINT}"
            )
        if "NO_SECKEY" in stderr:
            return "gpg has no secret key for this recipient"
        if self.version < (2, 3) and _has_aead_packet(armored):
            version = ".".join(map(str, self.version))
            return (
                f"the data key was wrapped by GnuPG 2.3 or later with AEAD (OCB) encryption, "
                f"which this GnuPG {version} cannot read; fix: use GnuPG 2.3 or later here, or "
                "have the writer turn AEAD off for this key (gpg --edit-key KEY, setpref without "
                "AEAD, save) and re-wrap the file's data key (`secure-up updatekeys`)"
            )
        return _last_gpg_message(stderr)

    def _encrypt_failure(self, stderr: str, fingerprint: str) -> tuple[str, str]:
        invalid = re.search(r"INV_RECP (\d+) ", stderr)
        if invalid is None or invalid.group(1) == "1":
            return (
                "gpg does not have that public key",
                f"import that public key first: gpg --import KEYFILE (GNUPGHOME={self.home})",
            )
        validity = {
            key["fingerprint"]: key.get("trust", "")
            for key in self._handle().list_keys(keys=[fingerprint])
        }
        state = next(iter(validity.values()), "")
        if state == "r" or invalid.group(1) == "4":
            return (
                "the key is revoked",
                "remove it from the recipients (.sops.yaml) and run `secure-up updatekeys`",
            )
        if state == "e" or invalid.group(1) == "5" or "KEYEXPIRED" in stderr:
            return (
                "the key has expired",
                f"ask its owner to extend it (gpg --quick-set-expire {fingerprint} 1y) and "
                "re-import the public key, or remove it from the recipients and run "
                "`secure-up updatekeys`",
            )
        return (
            "the key cannot encrypt (no usable encryption subkey)",
            "ask its owner for a key with an encryption subkey",
        )


def _assuan_command(socket_path: str, command: bytes) -> bool:
    """Send one Assuan command to the daemon at ``socket_path``; True when it said OK.

    Hand-written: Assuan is a line protocol ("OK" greeting, a command, "OK"/"ERR"
    reply), and the only client library (gpg-connect-agent) is a program to spawn.
    A socket nobody listens on means the daemon is gone already: nothing to stop.
    """
    import socket

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(AGENT_TIMEOUT)
            try:
                connection.connect(socket_path)
            except (ConnectionRefusedError, FileNotFoundError):
                return True
            replies = connection.makefile("rb")
            if not replies.readline().startswith(b"OK"):
                return False
            connection.sendall(command + b"\n")
            return replies.readline().startswith(b"OK")
    except OSError:
        return False


def _last_gpg_message(stderr: str) -> str:
    """gpg's own last words, for failures we have no better reason for."""
    messages = [
        line.removeprefix("gpg: ").strip()
        for line in stderr.splitlines()
        if line.startswith("gpg: ")
    ]
    return messages[-1] if messages else "gpg failed"


def _has_aead_packet(armored: str) -> bool:
    """Whether an armored message carries encrypted data GnuPG 2.2 cannot read."""
    body = [
        line
        for line in armored.strip().splitlines()[1:]
        if line and ":" not in line and not line.startswith(("=", "-----"))
    ]
    import base64
    import binascii

    try:
        data = base64.b64decode("".join(body), validate=True)
    except (binascii.Error, ValueError):
        return False
    return any(
        tag == _TAG_OCB_ENCRYPTED or (tag == _TAG_SEIPD and body_first == 2)
        for tag, body_first in _packets(data)
    )


def _packets(data: bytes) -> Iterator[tuple[int, int]]:
    """(tag, first body byte) of each top-level OpenPGP packet (RFC 4880 4.2)."""
    offset = 0
    while offset + 2 <= len(data):
        header = data[offset]
        if not header & 0x80:
            return
        if header & 0x40:  # new format
            tag, first = header & 0x3F, data[offset + 1]
            if first < 192:
                length, size = first, 2
            elif first < 224:
                length, size = ((first - 192) << 8) + data[offset + 2] + 192, 3
            elif first == 255:
                length, size = int.from_bytes(data[offset + 2 : offset + 6], "big"), 6
            else:  # partial body length: the packet runs on; its tag is all we need
                yield tag, data[offset + 2] if offset + 2 < len(data) else -1
                return
        else:  # old format
            tag, length_type = (header >> 2) & 0x0F, header & 0x03
            if length_type == 3:  # indeterminate: runs to the end
                yield tag, data[offset + 1]
                return
            size = 1 + (1, 2, 4)[length_type]
            length = int.from_bytes(data[offset + 1 : offset + size], "big")
        yield tag, data[offset + size] if offset + size < len(data) else -1
        offset += size + length


class PgpService:
    """The PGP key service: gpg with the user's keyring, or a throw-away one from a CI variable."""

    kind = "pgp"

    def __init__(self, context: KeyContext) -> None:
        self._context = context
        self._gpg: GnuPG | None = None
        #: What the CI key made of each message it was given (keys/prestart.py), by
        #: message: the plaintext, or b"" when it could not open it.
        self._in_memory: dict[str, bytes] | None = None

    @property
    def gpg(self) -> GnuPG:
        """gpg for this command, set up on first use (a file without PGP keys needs none)."""
        if self._gpg is None:
            from secure_up.keys import early
            from secure_up.keys.session import gpg_session

            started = early.adopt(self._context.environ, self._context.interactive)
            if started is not None:  # set up at start-up for this very environment
                session, self._gpg = started
                self._context.cleanup.enter_context(session)
            else:
                self._gpg = self._context.cleanup.enter_context(
                    gpg_session(self._context.environ, interactive=self._context.interactive)
                )
        return self._gpg

    def open(self, key: MasterKey) -> bytes:
        opened = self._opened_in_memory(key.enc)
        if opened:
            return opened
        return self.gpg.decrypt(key.enc)  # its refusal is the error the run gives

    def _opened_in_memory(self, message: str) -> bytes | None:
        """``message`` opened by the CI key in memory (keys/pgp_native.py), or None.

        Always in a child process (keys/prestart.py), never here: the library returns
        the whole plaintext, and a hostile message may decompress to gigabytes; the
        child's memory is bounded, ours would not be. Forked before the imports for
        the command line's files, or now for another message.
        """
        from secure_up.keys import pgp_native, prestart
        from secure_up.keys.session import key_variable_set

        environ = self._context.environ
        if not (key_variable_set(environ) and pgp_native.enabled(environ)):
            return None
        if self._in_memory is None:
            self._in_memory = prestart.opened_in_memory(environ)
        if message not in self._in_memory:
            self._in_memory.update(prestart.open_in_child([message], environ))
        return self._in_memory.get(message)

    def wrap(self, key: MasterKey, data_key: bytes) -> None:
        key.enc = self.gpg.encrypt(data_key, key.identifier)

    def identities(self) -> list[str]:
        try:
            keys = self.gpg.secret_keys()
        except PgpError:
            return []
        return [key.describe() for key in keys]

    def where(self) -> str:
        return f"secret keys in {self.gpg.home}"


def new_key(fingerprint: str) -> PgpKey:
    return PgpKey(fingerprint=fingerprint.replace(" ", "").upper())


KIND: Final = KeyKind("pgp", PgpService, new_key)
