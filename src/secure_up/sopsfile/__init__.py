"""One sops file, the only way in: read, decrypt, edit, re-key and write it.

Commands call this package; only it reaches into ``sops/`` (the format) and
``keys/`` (master keys). ``file`` reads, decrypts and encrypts a whole file;
``edits`` and ``shell_payload`` change one value; ``recipients`` and ``rekey``
change who can open it; ``creation`` names a new file's recipients and rule;
``extract`` picks one value out; ``config`` reads ``.sops.yaml`` creation rules.

The document model and the format names are re-exported here for callers that
walk or build documents. This module is on the start-up path: it imports only
``file`` and what ``file`` imports already.
"""

from secure_up.sops.cipher import format_float
from secure_up.sops.stores import FILE_TYPES, FileType, file_type_for, store_for
from secure_up.sops.tree import Branch, Documents, Node, from_bytes, from_plain, to_plain
from secure_up.sops.tree import Sequence as TreeSequence
from secure_up.sopsfile.file import (
    DecryptedFile,
    EncryptedFile,
    encrypt_new,
    is_encrypted,
    read_input,
)

__all__ = [
    "FILE_TYPES",
    "Branch",
    "DecryptedFile",
    "Documents",
    "EncryptedFile",
    "FileType",
    "Node",
    "TreeSequence",
    "encrypt_new",
    "file_type_for",
    "format_float",
    "from_bytes",
    "from_plain",
    "is_encrypted",
    "read_input",
    "store_for",
    "to_plain",
]
