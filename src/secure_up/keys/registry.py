"""The master key kinds secure-up opens and wraps: one line per kind.

Kinds sops writes that are not listed here (gcp_kms, azure_kv, hc_vault, hckms)
are kept untouched in files; a file only they open is refused, naming them.
"""

from __future__ import annotations

from typing import Final

from secure_up.errors import SecureUpError
from secure_up.keys import age, kms, pgp
from secure_up.keys.interface import KeyKind
from secure_up.sops.metadata import MasterKey

KINDS: Final[dict[str, KeyKind]] = {kind.kind: kind for kind in (pgp.KIND, age.KIND, kms.KIND)}


def new_key(kind: str, recipient: str) -> MasterKey:
    """A new master key entry for ``recipient`` (not wrapped yet); refuses kinds we cannot wrap."""
    entry = KINDS.get(kind)
    if entry is None:
        raise SecureUpError(
            f"secure-up cannot wrap data keys for {kind} keys",
            f"name recipients of a kind it can ({', '.join(KINDS)}), or use sops for this file",
        )
    return entry.new_key(recipient)
