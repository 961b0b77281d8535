"""Opening a data key with the CI key itself, in memory, instead of through gpg.

With ``SECURE_UP_GPG_KEY`` (or its ``_FILE`` twin) the secret key is in our
hands already. Through gpg, opening a data key with it means a fresh keyring, a
``gpg --import``, a gpg-agent, a ``gpg --decrypt`` and stopping that agent: about
50 ms of a CI step that the shell recipe does in 80. pysequoia, the Python binding
of the Sequoia-PGP library (maintained by the Sequoia project), decrypts the data
key's PGP message with the key in memory: no keyring, no agent, no directory, no
process, so nothing is left behind even by SIGKILL.

Whatever it cannot do — a key it cannot read (several keys in one variable, a
public key only), a passphrase it needs and was not given or given wrong, a message
not for this key or with packets it refuses — it leaves to gpg, which runs as it
always did and says why it fails in the words our errors have always used. So this
module only ever makes a success faster; it never changes an error.

It runs only in a child process (``keys/prestart.py``): the library returns a
message's whole plaintext, and a hostile message may decompress to gigabytes, so
the child's memory is bounded and a failure there sends the command to gpg, whose
output is bounded too. The key's secret material lives in that child only, which
is not dumpable (``system/hardening.py``), as for every secret of ours.

RSA: Sequoia's RSA here is the RustCrypto implementation, whose decryption is not
constant-time (RUSTSEC-2023-0071, "Marvin"). That attack needs many decryptions of
ciphertexts the attacker chose, timed precisely; we decrypt one or two messages
from a file in the pipeline's own repository, once per process. We judged the
risk negligible; ``SECURE_UP_PGP_NATIVE=0`` makes every run use gpg.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

#: Set to 0 to open data keys with gpg even when the key is in a variable.
NATIVE_VARIABLE: Final = "SECURE_UP_PGP_NATIVE"


class NativeKey:
    """A CI secret key in memory, able to open PGP messages addressed to it."""

    __slots__ = ("_decryptor",)

    def __init__(self, decryptor: Any) -> None:
        self._decryptor = decryptor

    def __repr__(self) -> str:
        return "NativeKey(<secret>)"

    @classmethod
    def load(cls, key_data: bytes, passphrase: str | None) -> NativeKey | None:
        """The key in ``key_data`` (armored or binary), or None when gpg must handle it."""
        try:
            import pysequoia

            tsk = pysequoia.Tsk.from_bytes(key_data)
            decryptor = tsk.decryptor(passphrase) if passphrase is not None else tsk.decryptor()
        except Exception:
            return None
        return cls(decryptor)

    def decrypt(self, armored: str) -> bytes | None:
        """The plaintext of ``armored`` (a data key or a share), or None when gpg must try."""
        try:
            import pysequoia

            plaintext: bytes | None = pysequoia.decrypt(
                armored.encode("utf-8"), decryptor=self._decryptor
            ).bytes
        except Exception:
            return None
        return plaintext or None


def enabled(environ: Mapping[str, str]) -> bool:
    """Whether a key from a variable may be used in memory (not turned off).

    The library is not loaded to ask: it is a dependency, and where it does not load,
    :meth:`NativeKey.load` says so by returning None (gpg then does the work).
    """
    return environ.get(NATIVE_VARIABLE, "").strip() != "0"
