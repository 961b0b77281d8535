"""gpg_session with the real gpg: a key from the environment in an ephemeral keyring.

Every test runs with no terminal (``interactive=False``) under pytest-timeout,
so a gpg that waited for a passphrase would fail the test instead of hanging.
After each run the ephemeral home is gone, no gpg-agent of ours is left, and
the user's keyring (GNUPGHOME) is byte-identical.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from secure_up.errors import InputFileError, NoKeyError, UsageError
from secure_up.keys.pgp import GnuPG, PgpError
from secure_up.keys.session import HOME_PREFIX, gpg_session
from tests.conftest import GpgKeys

pytestmark = [pytest.mark.gpg, pytest.mark.timeout(120)]

DATA_KEY = bytes(range(32))


# -- helpers shared with test_kill_cleanup and test_doctor --------------------


@dataclass(frozen=True)
class ExportedKeys:
    """Armored secret keys taken out of the test keyring, as a CI secret holds them."""

    plain: str  # Alice: no passphrase
    protected: str  # Carol: a passphrase
    public: str  # Alice's public key only


def gpg_in(home: Path, *args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(
        ["gpg", "--batch", "--homedir", str(home), *args],
        input=stdin,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout


def export_keys(keys: GpgKeys) -> ExportedKeys:
    def secret(fingerprint: str, passphrase: str) -> str:
        # The passphrase goes over a pipe here too: tests keep the rules they check.
        return gpg_in(
            keys.home,
            "--pinentry-mode",
            "loopback",
            "--passphrase-fd",
            "0",
            "--export-secret-keys",
            "--armor",
            fingerprint,
            stdin=passphrase.encode() + b"\n",
        ).decode()

    alice = keys.fingerprints[0]
    return ExportedKeys(
        plain=secret(alice, ""),
        protected=secret(keys.passphrase_fingerprint, keys.passphrase),
        public=gpg_in(keys.home, "--export", "--armor", alice).decode(),
    )


def wrap_for(
    keys: GpgKeys, fingerprint: str, data: bytes = DATA_KEY, compression: str = "zip"
) -> str:
    """``data`` encrypted to ``fingerprint`` (public key only), as sops stores a data key."""
    return gpg_in(
        keys.home,
        "--trust-model",
        "always",
        "--armor",
        "--compress-algo",
        compression,
        "--encrypt",
        "--recipient",
        fingerprint,
        stdin=data,
    ).decode()


def bomb_for(keys: GpgKeys, fingerprint: str) -> str:
    """A PGP message for ``fingerprint`` of a few hundred bytes that opens to 64 MiB."""
    return wrap_for(keys, fingerprint, bytes(64 * 1024 * 1024), compression="bzip2")


def base_environ(user_keyring: Path, home_dir: Path) -> dict[str, str]:
    """The environment of a run, without key variables; HOME is empty."""
    environ = {
        name: value for name, value in os.environ.items() if not name.startswith("SECURE_UP_")
    }
    environ["GNUPGHOME"] = str(user_keyring)
    environ["HOME"] = str(home_dir)
    return environ


def copy_keyring(keys: GpgKeys, destination: Path) -> Path:
    """A copy of the test keyring (files only) that stands for the user's own."""
    shutil.copytree(
        keys.home,
        destination,
        ignore=lambda _dir, names: [name for name in names if name.startswith("S.")],
    )
    destination.chmod(0o700)
    return destination


def keyring_digest(home: Path) -> dict[str, str]:
    """A hash of every regular file of a keyring (sockets come and go with agents)."""
    return {
        str(path.relative_to(home)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(home.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def agents_for(home_fragment: str) -> list[int]:
    """PIDs of live gpg-agents whose command line or environment names ``home_fragment``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            if b"gpg-agent" not in cmdline or _zombie(entry):
                continue
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile
            continue
        if home_fragment.encode() in cmdline + environ:
            pids.append(int(entry.name))
    return pids


def _zombie(proc: Path) -> bool:
    return ") Z " in (proc / "stat").read_text()


def homes_of(pid: int) -> list[Path]:
    """Ephemeral homes made by process ``pid`` (its PID is part of the name)."""
    prefix = f"{HOME_PREFIX}{pid}-"
    bases = {Path("/dev/shm"), Path(os.environ.get("TMPDIR", "/tmp"))}
    return [
        path
        for base in bases
        if base.is_dir()
        for path in base.iterdir()
        if path.name.startswith(prefix)
    ]


def leftovers(pid: int, grace: float = 3.0) -> list[str]:
    """What process ``pid``'s sessions left: homes, and agents still alive after ``grace``."""
    deadline = time.monotonic() + grace
    while True:
        found = [str(home) for home in homes_of(pid)]
        found += [f"gpg-agent {agent}" for agent in agents_for(f"{HOME_PREFIX}{pid}-")]
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


# -- fixtures -----------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(gpg_keys: GpgKeys) -> ExportedKeys:
    return export_keys(gpg_keys)


@pytest.fixture(scope="module")
def user_keyring(gpg_keys: GpgKeys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = copy_keyring(gpg_keys, tmp_path_factory.mktemp("user") / "gnupg")
    yield home
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)


@pytest.fixture
def environ(user_keyring: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A run's environment; afterwards the user's keyring must be unchanged and nothing left."""
    (tmp_path / "home").mkdir()
    before = keyring_digest(user_keyring)
    yield base_environ(user_keyring, tmp_path / "home")
    assert leftovers(os.getpid()) == []
    assert keyring_digest(user_keyring) == before
    assert not (tmp_path / "home" / ".gnupg").exists()


# -- an ephemeral keyring -----------------------------------------------------


def test_a_key_without_passphrase_opens_a_data_key_in_a_private_home(
    environ: dict[str, str], exported: ExportedKeys, gpg_keys: GpgKeys
) -> None:
    environ["SECURE_UP_GPG_KEY"] = exported.plain
    with gpg_session(environ, interactive=False) as gpg:
        home = Path(gpg.home)
        assert home.parent == Path("/dev/shm")
        assert home.name.startswith(f"{HOME_PREFIX}{os.getpid()}-")
        assert home.stat().st_mode & 0o777 == 0o700
        assert (home / "gpg-agent.conf").read_text() == "allow-loopback-pinentry\n"
        assert gpg.decrypt(wrap_for(gpg_keys, gpg_keys.fingerprints[0])) == DATA_KEY
        assert [key.fingerprint for key in gpg.secret_keys()] == [gpg_keys.fingerprints[0]]
        assert agents_for(str(home)), "the agent of the ephemeral home should be running"
    assert not home.exists()


def test_a_passphrase_reaches_gpg_by_pipe_and_never_reaches_the_agent(
    environ: dict[str, str], exported: ExportedKeys, gpg_keys: GpgKeys
) -> None:
    environ["SECURE_UP_GPG_KEY"] = exported.protected
    environ["SECURE_UP_GPG_PASSPHRASE"] = gpg_keys.passphrase
    with gpg_session(environ, interactive=False) as gpg:
        assert gpg.decrypt(wrap_for(gpg_keys, gpg_keys.passphrase_fingerprint)) == DATA_KEY
        for agent in agents_for(gpg.home):
            agent_environ = Path(f"/proc/{agent}/environ").read_bytes()
            assert b"SECURE_UP_GPG" not in agent_environ
            assert gpg_keys.passphrase.encode() not in agent_environ
            assert gpg_keys.passphrase.encode() not in Path(f"/proc/{agent}/cmdline").read_bytes()
    assert "GPG_TTY" not in os.environ


def test_key_and_passphrase_files_work_and_base64_keys_too(
    environ: dict[str, str], exported: ExportedKeys, gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    key_file = tmp_path / "key.asc"
    key_file.write_text(exported.protected)
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text(gpg_keys.passphrase + "\n")  # as `echo` writes it
    message = wrap_for(gpg_keys, gpg_keys.passphrase_fingerprint)
    environ |= {
        "SECURE_UP_GPG_KEY_FILE": str(key_file),
        "SECURE_UP_GPG_PASSPHRASE_FILE": str(passphrase_file),
    }
    with gpg_session(environ, interactive=False) as gpg:
        assert gpg.decrypt(message) == DATA_KEY
    del environ["SECURE_UP_GPG_KEY_FILE"]
    environ["SECURE_UP_GPG_KEY"] = base64.b64encode(exported.protected.encode()).decode()
    with gpg_session(environ, interactive=False) as gpg:
        assert gpg.decrypt(message) == DATA_KEY


def test_a_missing_passphrase_fails_at_once_and_names_the_variable(
    environ: dict[str, str], exported: ExportedKeys, gpg_keys: GpgKeys
) -> None:
    environ["SECURE_UP_GPG_KEY"] = exported.protected
    message = wrap_for(gpg_keys, gpg_keys.passphrase_fingerprint)
    with gpg_session(environ, interactive=False) as gpg:
        started = time.monotonic()
        with pytest.raises(PgpError, match="SECURE_UP_GPG_PASSPHRASE") as caught:
            gpg.decrypt(message)
        assert time.monotonic() - started < 5
    assert "needs a passphrase" in caught.value.what


def test_a_wrong_passphrase_says_so(
    environ: dict[str, str], exported: ExportedKeys, gpg_keys: GpgKeys
) -> None:
    wrong = "Tr0ub4dor&3"
    environ |= {"SECURE_UP_GPG_KEY": exported.protected, "SECURE_UP_GPG_PASSPHRASE": wrong}
    with gpg_session(environ, interactive=False) as gpg, pytest.raises(PgpError) as caught:
        gpg.decrypt(wrap_for(gpg_keys, gpg_keys.passphrase_fingerprint))
    assert "passphrase given is wrong" in caught.value.what
    assert wrong not in caught.value.diagnostics()


def test_an_error_in_the_block_still_cleans_up(
    environ: dict[str, str], exported: ExportedKeys
) -> None:
    environ["SECURE_UP_GPG_KEY"] = exported.plain
    homes = []

    def fail_inside() -> None:
        with gpg_session(environ, interactive=False) as gpg:
            homes.append(Path(gpg.home))
            gpg.secret_keys()  # starts the agent
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_inside()
    assert not homes[0].exists()


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("", NoKeyError, "SECURE_UP_GPG_KEY is set but empty"),
        ("   \n", NoKeyError, "SECURE_UP_GPG_KEY is set but empty"),
        ("not a key!", NoKeyError, "does not hold an OpenPGP key"),
        (base64.b64encode(b"plain garbage").decode(), NoKeyError, "does not hold an OpenPGP"),
        (
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nAAAA\n-----END PGP PRIVATE KEY BLOCK-----\n",
            NoKeyError,
            "does not hold an OpenPGP key",
        ),
    ],
)
def test_an_empty_or_garbled_key_is_explained(
    environ: dict[str, str], value: str, error: type[Exception], message: str
) -> None:
    environ["SECURE_UP_GPG_KEY"] = value
    with pytest.raises(error, match=message), gpg_session(environ, interactive=False):
        pytest.fail("the session should not start")


def test_a_public_key_instead_of_a_private_one_is_explained(
    environ: dict[str, str], exported: ExportedKeys, gpg_keys: GpgKeys
) -> None:
    environ["SECURE_UP_GPG_KEY"] = exported.public
    with (
        pytest.raises(NoKeyError, match="only a public key") as caught,
        gpg_session(environ, interactive=False),
    ):
        pytest.fail("the session should not start")
    assert gpg_keys.fingerprints[0] in caught.value.what
    assert caught.value.fix is not None
    assert "--export-secret-keys" in caught.value.fix


@pytest.mark.parametrize(
    "variables",
    [
        ("SECURE_UP_GPG_KEY", "SECURE_UP_GPG_KEY_FILE"),
        ("SECURE_UP_GPG_PASSPHRASE", "SECURE_UP_GPG_PASSPHRASE_FILE"),
    ],
)
def test_a_variable_and_its_file_twin_are_refused_together(
    environ: dict[str, str], tmp_path: Path, variables: tuple[str, str]
) -> None:
    (tmp_path / "file").write_text("x")
    environ |= {variables[0]: "x", variables[1]: str(tmp_path / "file")}
    with (
        pytest.raises(UsageError, match=f"both {variables[0]} and {variables[1]}"),
        gpg_session(environ, interactive=False),
    ):
        pytest.fail("the session should not start")


def test_an_unreadable_key_file_names_the_variable(environ: dict[str, str], tmp_path: Path) -> None:
    environ["SECURE_UP_GPG_KEY_FILE"] = str(tmp_path / "missing.asc")
    with (
        pytest.raises(InputFileError, match=r"missing\.asc \(named by SECURE_UP_GPG_KEY_FILE\)"),
        gpg_session(environ, interactive=False),
    ):
        pytest.fail("the session should not start")


def test_a_home_left_by_a_killed_run_is_removed_by_the_next(
    environ: dict[str, str], exported: ExportedKeys, gpg_keys: GpgKeys
) -> None:
    corpse = subprocess.Popen(["true"])
    corpse.wait()
    orphan = Path("/dev/shm") / f"{HOME_PREFIX}{corpse.pid}-orphan"
    orphan.mkdir(mode=0o700)
    gpg_in(orphan, "--import", stdin=exported.plain.encode())  # also starts its agent
    assert agents_for(str(orphan))
    environ["SECURE_UP_GPG_KEY"] = exported.plain
    with gpg_session(environ, interactive=False):
        assert not orphan.exists()
    assert leftovers(corpse.pid) == []


# -- the user's keyring --------------------------------------------------------


def test_without_key_variables_the_users_keyring_is_used(gpg_keys: GpgKeys, tmp_path: Path) -> None:
    with gpg_session(base_environ(gpg_keys.home, tmp_path), interactive=False) as gpg:
        assert gpg.home == str(gpg_keys.home)
        assert gpg.decrypt(wrap_for(gpg_keys, gpg_keys.fingerprints[1])) == DATA_KEY


# -- errors that explain --------------------------------------------------------


def _packets(data: bytes) -> list[bytes]:
    """Top-level packets of a message gpg wrote (two-byte new-format or old-format headers)."""
    packets, offset = [], 0
    while offset < len(data):
        header = data[offset]
        if header & 0x40:
            first = data[offset + 1]
            size, length = (
                (2, first) if first < 192 else (3, ((first - 192) << 8) + data[offset + 2] + 192)
            )
        else:
            width = (1, 2, 4)[header & 0x03]
            size, length = 1 + width, int.from_bytes(data[offset + 1 : offset + 1 + width], "big")
        packets.append(data[offset : offset + size + length])
        offset += size + length
    return packets


def test_a_gnupg_2_3_aead_message_is_explained_on_gnupg_2_2(
    environ: dict[str, str], gpg_keys: GpgKeys
) -> None:
    gpg = GnuPG(environ)
    if gpg.version >= (2, 3):
        pytest.skip("this gpg reads AEAD messages")
    # A GnuPG 2.3 message: the key packet for Alice, then an OCB encrypted data packet
    # (tag 20) where GnuPG 2.2 expects its CFB one.
    binary = gpg_in(
        gpg_keys.home,
        "--trust-model",
        "always",
        "--encrypt",
        "--recipient",
        gpg_keys.fingerprints[0],
        stdin=DATA_KEY,
    )
    body = bytes([1, 9, 2, 6]) + os.urandom(15) + os.urandom(48)
    message = _packets(binary)[0] + bytes([0xC0 | 20, len(body)]) + body
    armored = gpg_in(gpg_keys.home, "--enarmor", stdin=message).decode()
    armored = armored.replace("ARMORED FILE", "MESSAGE")
    with pytest.raises(PgpError, match="AEAD") as caught:
        gpg.decrypt(armored)
    assert "GnuPG 2.3 or later" in caught.value.what


def test_an_agent_that_cannot_start_is_explained(
    environ: dict[str, str], gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    long_home = tmp_path / ("k" * 120)
    long_home.mkdir(mode=0o700)
    shutil.copy(gpg_keys.home / "pubring.kbx", long_home)
    gpg = GnuPG({**environ, "GNUPGHOME": str(long_home)})
    with pytest.raises(PgpError, match=r"socket path .* is longer than") as caught:
        gpg.start_agent()
    assert caught.value.fix is not None
    assert "shorter path" in caught.value.fix
    with pytest.raises(PgpError, match="gpg-agent cannot start"):
        gpg.decrypt(wrap_for(gpg_keys, gpg_keys.fingerprints[0]))


@pytest.fixture(scope="module")
def dying_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, str]]:
    """A keyring with a key that expires in a second and a revoked one (fast ed25519 keys)."""
    home = tmp_path_factory.mktemp("dying")
    home.chmod(0o700)

    def make(uid: str, expiry: str) -> str:
        gpg_in(
            home,
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-gen-key",
            uid,
            "future-default",
            "default",
            expiry,
        )
        listing = gpg_in(home, "--with-colons", "--list-keys", uid).decode()
        return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))

    expired = make("Expired <expired@example.test>", "seconds=1")
    revoked = make("Revoked <revoked@example.test>", "never")
    certificate = (home / "openpgp-revocs.d" / f"{revoked}.rev").read_text()
    gpg_in(home, "--import", stdin=certificate.replace(":-----BEGIN", "-----BEGIN").encode())
    listing = gpg_in(home, "--with-colons", "--list-keys", expired).decode()
    expires = int(
        next(line.split(":")[6] for line in listing.splitlines() if line.startswith("pub"))
    )
    time.sleep(max(0.0, expires + 2 - time.time()))  # gpg compares whole seconds
    yield home, expired, revoked
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)


@pytest.mark.parametrize(
    ("state", "reason"), [("expired", "has expired"), ("revoked", "is revoked")]
)
def test_encrypting_to_an_expired_or_revoked_key_says_which(
    environ: dict[str, str], dying_keys: tuple[Path, str, str], state: str, reason: str
) -> None:
    home, expired, revoked = dying_keys
    fingerprint = expired if state == "expired" else revoked
    gpg = GnuPG({**environ, "GNUPGHOME": str(home)})
    with pytest.raises(PgpError, match=reason) as caught:
        gpg.encrypt(DATA_KEY, fingerprint)
    assert fingerprint in caught.value.what
    assert caught.value.fix is not None
    assert "updatekeys" in caught.value.fix


def test_encrypting_to_an_unknown_key_says_to_import_it(environ: dict[str, str]) -> None:
    with pytest.raises(PgpError, match="does not have that public key"):
        GnuPG(environ).encrypt(DATA_KEY, "0123456789ABCDEF0123456789ABCDEF01234567")


def test_a_message_that_decompresses_to_megabytes_is_cut_and_refused(
    environ: dict[str, str], gpg_keys: GpgKeys
) -> None:
    # A committer controls the file: a PGP entry may be a compression bomb (bzip2 makes
    # 64 MiB of zeros into a message of a few hundred bytes). gpg's output is read with
    # a bound, its process stopped, and the run refused: no gigabytes in our memory.
    bomb = bomb_for(gpg_keys, gpg_keys.fingerprints[0])
    assert len(bomb) < 4096
    with pytest.raises(PgpError):
        GnuPG(environ).decrypt(bomb)


def test_a_message_too_large_for_a_data_key_is_refused_before_gpg_runs(
    environ: dict[str, str],
) -> None:
    huge = "-----BEGIN PGP MESSAGE-----\n" + "A" * 100_000 + "\n-----END PGP MESSAGE-----"
    with pytest.raises(PgpError, match="the file was altered"):
        GnuPG(environ).decrypt(huge)
