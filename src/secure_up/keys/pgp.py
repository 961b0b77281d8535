"""PGP master keys, through the real gpg (python-gnupg).

gpg opens and wraps the 32-byte data key; nothing else of a file ever reaches
it. The data key travels over gpg's stdin and stdout, never an argv. gpg is
found through ``SOPS_GPG_EXEC`` or on ``PATH``; ``GNUPGHOME`` is honoured.
Without a terminal gpg is told never to ask for a passphrase, so a CI run
fails fast instead of hanging on a pinentry.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from secure_up.errors import NoKeyError, SecureUpError

# python-gnupg logs gpg's status lines at DEBUG; keep them out of any log a
# host application may have configured.
logging.getLogger("gnupg").setLevel(logging.WARNING)


@dataclass(frozen=True)
class SecretKey:
    """A secret key gpg holds: its primary fingerprint, subkeys and user ids."""

    fingerprint: str
    subkeys: tuple[str, ...]
    uids: tuple[str, ...]

    def matches(self, fingerprint: str) -> bool:
        wanted = fingerprint.upper()
        return any(fp.endswith(wanted) for fp in (self.fingerprint, *self.subkeys))

    def describe(self) -> str:
        uid = self.uids[0] if self.uids else "no user id"
        return f"{self.fingerprint} ({uid})"


class PgpError(NoKeyError):
    """gpg could not open or wrap a data key."""


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
        resolved = shutil.which(binary, path=environ.get("PATH"))
        if resolved is None:
            raise SecureUpError(
                f"cannot find the gpg program ({binary!r})",
                "install GnuPG (Debian: apt-get install gnupg) or point SOPS_GPG_EXEC at it",
            )
        self._binary = resolved
        self._home = environ.get("GNUPGHOME") or None
        self._env = dict(environ)
        self._passphrase = passphrase
        self._interactive = interactive
        self._gpg: Any = None

    def __repr__(self) -> str:
        return f"GnuPG(binary={self._binary!r}, home={self._home!r})"

    @property
    def home(self) -> str:
        return self._home or os.path.join(self._env.get("HOME", "~"), ".gnupg")

    def _handle(self) -> Any:
        if self._gpg is None:
            import gnupg  # imported on first use: start-up stays lean

            options = []
            if not self._interactive and self._passphrase is None:
                # Never wait for a pinentry nobody can answer.
                options = ["--pinentry-mode", "error"]
            self._gpg = gnupg.GPG(
                gpgbinary=self._binary, gnupghome=self._home, env=self._env, options=options
            )
            self._gpg.encoding = "utf-8"
        return self._gpg

    def decrypt(self, armored: str) -> bytes:
        """The plaintext of an armored PGP message (a data key or a share)."""
        result = self._handle().decrypt(armored, passphrase=self._passphrase)
        data: bytes = result.data
        if not result.ok or not data:
            raise PgpError(_explain(result.status, result.stderr), None)
        return data

    def encrypt(self, data: bytes, fingerprint: str) -> str:
        """``data`` wrapped for ``fingerprint``, ASCII-armored, as sops stores it."""
        result = self._handle().encrypt(
            data, [fingerprint], armor=True, always_trust=True,
            extra_args=["--no-encrypt-to", "--no-default-recipient"],
        )
        if not result.ok:
            raise PgpError(
                f"gpg could not encrypt to {fingerprint}: {_explain(result.status, result.stderr)}",
                f"import that public key first: gpg --import KEYFILE (GNUPGHOME={self.home})",
            )
        armored: str = str(result).rstrip("\n")
        return armored

    def secret_keys(self) -> list[SecretKey]:
        """The secret keys this keyring holds (for diagnostics and doctor)."""
        keys = []
        for entry in self._handle().list_keys(secret=True):
            subkeys = tuple(sub[2] for sub in entry.get("subkeys", []) if len(sub) > 2 and sub[2])
            keys.append(SecretKey(entry["fingerprint"], subkeys, tuple(entry.get("uids", []))))
        return keys


def _explain(status: str | None, stderr: str | None) -> str:
    """A one-line reason from gpg's status and stderr (they never hold the plaintext)."""
    text = (stderr or "").lower()
    if "no secret key" in text or "no_seckey" in text:
        return "gpg has no secret key for this recipient"
    if "bad passphrase" in text:
        return "the passphrase is wrong"
    if "pinentry" in text or "inappropriate ioctl" in text or "no pinentry" in text:
        return "the key needs a passphrase and there is no terminal to ask for it"
    if "unusable public key" in text or "expired" in text or "revoked" in text:
        return "the key is expired, revoked or cannot encrypt"
    if "no public key" in text:
        return "gpg does not have that public key"
    return (status or "gpg failed").strip() or "gpg failed"
