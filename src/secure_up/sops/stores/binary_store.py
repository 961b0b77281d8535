"""The binary format: any file's raw bytes, wrapped as ``{"data": "ENC[...]", "sops": {...}}``.

Every file whose suffix sops does not know is binary (``environment.secrets``,
``.env.production``). The plaintext tree is a single item ``data`` whose
value is the file's bytes as a string (decoded with ``surrogateescape``, so
NUL, 0xFF and any other byte survive; :func:`~secure_up.sops.tree.to_bytes`
gives them back). The encrypted envelope is a JSON file, laid out by the JSON store.
"""

from __future__ import annotations

import re
from typing import Final

from secure_up.errors import FormatError, NotEncryptedError, UsageError
from secure_up.sops.stores import RawMetadata
from secure_up.sops.stores.flat import dump_extracted, encode_text
from secure_up.sops.stores.json_store import STORE as JSON_STORE
from secure_up.sops.tree import Branch, Documents, Node, from_bytes

DATA_KEY: Final = "data"

_JSON_OBJECT_START: Final = re.compile(rb"[ \t\r\n]*\{")
_NOT_BINARY_FIX: Final = (
    "this is likely not a binary sops file: name its real type (json, yaml, dotenv, ini)"
)


class BinaryStore:
    """The :class:`~secure_up.sops.stores.Store` for binary files."""

    def load_plain(self, data: bytes) -> Documents:
        return [Branch([(DATA_KEY, from_bytes(data))])]

    def load_encrypted(self, data: bytes) -> tuple[Documents, RawMetadata]:
        if not _JSON_OBJECT_START.match(data):
            # A plaintext file is the common case; a damaged envelope still starts with "{".
            raise NotEncryptedError(
                "the file is not a sops-encrypted binary file (no JSON envelope): "
                "it is not encrypted",
                "encrypt it first: secure-up encrypt FILE",
            )
        return JSON_STORE.load_encrypted(data)

    def dump_plain(self, documents: Documents) -> bytes:
        if len(documents) != 1:
            raise FormatError(
                f"a binary file holds exactly one document, not {len(documents)}",
                _NOT_BINARY_FIX,
            )
        if DATA_KEY not in documents[0].keys():
            raise FormatError(f'the tree has no "{DATA_KEY}" key', _NOT_BINARY_FIX)
        value = documents[0].get(DATA_KEY)
        if not isinstance(value, str):
            raise FormatError(f'the "{DATA_KEY}" key does not hold a string', _NOT_BINARY_FIX)
        return encode_text(value)

    def dump_encrypted(self, documents: Documents, metadata: RawMetadata) -> bytes:
        return JSON_STORE.dump_encrypted(documents, metadata)

    def dump_value(self, value: Node) -> bytes:
        refusal = UsageError(
            "a binary file is not structured: a single value cannot be extracted",
            "decrypt the whole file",
        )
        return dump_extracted(self.dump_plain, value, refusal)


STORE: Final = BinaryStore()
