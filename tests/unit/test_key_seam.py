"""The key-service seam: a kind registered by a test opens and wraps sops files end to end.

Proves that nothing above ``keys/`` knows which kind of master key it deals with:
the fake service below is the only code that knows about its kind.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from secure_up.errors import NoKeyError
from secure_up.keys.interface import KeyContext, KeyKind, KeyUnavailable
from secure_up.keys.services import KeyServices
from secure_up.sops.metadata import HcVaultKey, KeyGroup, MasterKey, Metadata
from secure_up.sopsfile import EncryptedFile, encrypt_new

VAULT = "http://127.0.0.1:8200"


class FakeVault:
    """A transit engine in memory: 'wraps' by XOR with a per-key pad (a test, not crypto)."""

    kind = "hc_vault"

    def __init__(self, known: set[str]) -> None:
        self.known = known
        self.opened: list[str] = []

    def _pad(self, key: MasterKey) -> int:
        return sum(key.identifier.encode()) % 251 + 1

    def open(self, key: MasterKey) -> bytes:
        if key.identifier not in self.known:
            raise KeyUnavailable("this vault does not hold that key", None)
        self.opened.append(key.identifier)
        return bytes(byte ^ self._pad(key) for byte in bytes.fromhex(key.enc))

    def wrap(self, key: MasterKey, data_key: bytes) -> None:
        key.enc = bytes(byte ^ self._pad(key) for byte in data_key).hex()

    def identities(self) -> list[str]:
        return sorted(self.known)

    def where(self) -> str:
        return f"transit keys at {VAULT}"


def vault_key(name: str) -> HcVaultKey:
    return HcVaultKey(vault_address=VAULT, engine_path="transit", key_name=name)


def services(vault: FakeVault) -> KeyServices:
    kind = KeyKind("hc_vault", lambda _context: vault, vault_key)
    context = KeyContext({}, interactive=False, cleanup=contextlib.ExitStack())
    return KeyServices(context, {"hc_vault": kind})


def test_a_registered_kind_wraps_and_opens_a_file(tmp_path: Path) -> None:
    writer = FakeVault({vault_key("deploy").identifier})
    metadata = Metadata(key_groups=[KeyGroup(keys=[vault_key("deploy")])])
    encrypted = encrypt_new(b"DBPASS: s3cret-value\n", "yaml", metadata, services(writer))
    assert b"s3cret-value" not in encrypted
    assert b"hc_vault" in encrypted

    path = tmp_path / "app.yaml"
    path.write_bytes(encrypted)
    reader = FakeVault({vault_key("deploy").identifier})
    decrypted = EncryptedFile.read(path).decrypt(services(reader), for_rewrite=False)
    assert decrypted.documents[0].get("DBPASS") == "s3cret-value"
    assert reader.opened == [vault_key("deploy").identifier]


def test_shamir_groups_of_a_registered_kind(tmp_path: Path) -> None:
    names = ["a", "b", "c"]
    vault = FakeVault({vault_key(name).identifier for name in names})
    metadata = Metadata(
        key_groups=[KeyGroup(keys=[vault_key(name)]) for name in names], shamir_threshold=2
    )
    path = tmp_path / "app.json"
    path.write_bytes(encrypt_new(b'{"K": "v4lue"}', "json", metadata, services(vault)))
    partial = FakeVault({vault_key("a").identifier, vault_key("c").identifier})
    decrypted = EncryptedFile.read(path).decrypt(services(partial), for_rewrite=False)
    assert decrypted.documents[0].get("K") == "v4lue"


def test_a_kind_that_cannot_open_says_why_and_where_it_looked(tmp_path: Path) -> None:
    vault = FakeVault({vault_key("deploy").identifier})
    metadata = Metadata(key_groups=[KeyGroup(keys=[vault_key("deploy")])])
    path = tmp_path / "app.yaml"
    path.write_bytes(encrypt_new(b"K: value\n", "yaml", metadata, services(vault)))
    with pytest.raises(NoKeyError) as caught:
        EncryptedFile.read(path).decrypt(services(FakeVault(set())), for_rewrite=False)
    assert "this vault does not hold that key" in caught.value.what
    assert f"transit keys at {VAULT}: none" in caught.value.what


def test_a_kind_is_imported_only_when_a_file_needs_it() -> None:
    """A PGP-only run loads neither the age nor the kms module (start-up stays short)."""
    import subprocess
    import sys

    code = (
        "import sys; from secure_up.keys.registry import KINDS\n"
        "assert 'age' in KINDS and len(KINDS) >= 3\n"
        "KINDS['pgp']\n"
        "print(sorted(m for m in sys.modules if m in ('secure_up.keys.age', 'secure_up.keys.kms')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
