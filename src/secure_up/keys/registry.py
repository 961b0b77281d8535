"""The master key kinds secure-up opens and wraps: one line per kind.

Kinds sops writes that are not listed here (gcp_kms, azure_kv, hc_vault, hckms)
are kept untouched in files; a file only they open is refused, naming them.

Each kind's module is imported on first need (issue 15): a file with only PGP
keys never loads the age or KMS modules, nor what they import.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Final

from secure_up.errors import SecureUpError
from secure_up.keys.interface import KeyKind
from secure_up.sops.metadata import MasterKey

#: kind -> the module whose ``KIND`` implements it; adding a kind is one line here.
_MODULES: Final[dict[str, str]] = {
    "pgp": "secure_up.keys.pgp",
    "age": "secure_up.keys.age",
    "kms": "secure_up.keys.kms",
}


class _Kinds(Mapping[str, KeyKind]):
    """kind -> KeyKind, importing a kind's module when its entry is first looked up.

    Membership, iteration and length answer from the table alone, without importing.
    """

    def __init__(self, modules: Mapping[str, str]) -> None:
        self._modules = modules
        self._loaded: dict[str, KeyKind] = {}

    def __getitem__(self, kind: str) -> KeyKind:
        entry = self._loaded.get(kind)
        if entry is None:
            entry = importlib.import_module(self._modules[kind]).KIND
            assert isinstance(entry, KeyKind)  # noqa: S101 - each listed module defines KIND
            self._loaded[kind] = entry
        return entry

    def __contains__(self, kind: object) -> bool:
        return kind in self._modules

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __repr__(self) -> str:
        return f"KINDS({', '.join(self._modules)})"


KINDS: Final[Mapping[str, KeyKind]] = _Kinds(_MODULES)


def new_key(kind: str, recipient: str) -> MasterKey:
    """A new master key entry for ``recipient`` (not wrapped yet); refuses kinds we cannot wrap."""
    entry = KINDS.get(kind)
    if entry is None:
        raise SecureUpError(
            f"secure-up cannot wrap data keys for {kind} keys",
            f"name recipients of a kind it can ({', '.join(KINDS)}), or use sops for this file",
        )
    return entry.new_key(recipient)
