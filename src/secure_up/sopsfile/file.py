"""One sops file, read or written: the glue of stores, master keys and the engine.

This is where bytes meet keys. Everything above it (commands) deals in
documents and values; everything below it is pure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from secure_up.audit.record import note_files
from secure_up.errors import (
    AlreadyEncryptedError,
    FormatError,
    InputFileError,
    IntegrityError,
    NotEncryptedError,
    OutputConversionError,
)
from secure_up.keys.services import KeyServices, new_data_key
from secure_up.sops.cipher import ValueCipher
from secure_up.sops.engine import decrypt_documents, encrypt_documents
from secure_up.sops.metadata import Metadata, parse_metadata
from secure_up.sops.stores import FileType, Store, file_type_for, store_for
from secure_up.sops.tree import Branch, Documents
from secure_up.sops.tree import Sequence as TreeSequence
from secure_up.system.regular_file import read_regular

#: Secrets files are small; a huge file is almost surely the wrong one.
DEFAULT_MAX_SIZE: Final = 16 * 1024 * 1024


def read_input(path: Path, *, max_size: int = DEFAULT_MAX_SIZE) -> bytes:
    """The bytes of ``path`` (``-`` for stdin), with errors that say what to do.

    Only a regular file is read: a FIFO or a device would block or never end.
    """
    if str(path) == "-":
        import sys

        data = sys.stdin.buffer.read(max_size + 1)
        if len(data) > max_size:
            raise InputFileError(
                f"standard input holds more than {max_size / 2**20:.0f} MiB; secure-up reads "
                "secrets files of at most that",
                "check that this is the right file (secrets files are small)",
            )
        return data
    return read_regular(path, max_size=max_size)


def is_encrypted(data: bytes, file_type: FileType) -> bool:
    """Whether ``data`` is a sops file, as ``sops filestatus`` decides: metadata with a MAC.

    Malformed input raises (sops exits 1); merely plaintext is False. sops reads a
    binary file's envelope as JSON, so a plaintext binary file is an error too.
    """
    store = store_for("json" if file_type == "binary" else file_type)
    try:
        _, raw = store.load_encrypted(data)
        return bool(parse_metadata(raw).mac)
    except NotEncryptedError:
        return False


class EncryptedFile:
    """A sops file as read from disk: still encrypted."""

    # Plain classes here, not dataclasses: every decrypt loads this module, and
    # ``dataclasses`` (with ``inspect``) costs about 8 ms of start-up.
    __slots__ = ("documents", "file_type", "metadata", "path", "store")

    def __init__(
        self,
        path: Path,
        file_type: FileType,
        store: Store,
        documents: Documents,
        metadata: Metadata,
    ) -> None:
        self.path = path
        self.file_type = file_type
        self.store = store
        self.documents = documents
        self.metadata = metadata

    def __repr__(self) -> str:
        return (
            f"EncryptedFile(path={self.path!r}, file_type={self.file_type!r}, "
            f"store={self.store!r}, documents={self.documents!r}, metadata={self.metadata!r})"
        )

    @classmethod
    def parse(cls, path: Path, data: bytes, file_type: FileType) -> EncryptedFile:
        store = store_for(file_type)
        documents, raw = store.load_encrypted(data)
        for document in documents:
            _refuse_duplicate_keys(document, [])
        return cls(path, file_type, store, documents, parse_metadata(raw))

    @classmethod
    def read(cls, path: Path, input_type: str | None = None) -> EncryptedFile:
        file_type = file_type_for(path, input_type)
        return cls.parse(path, read_input(path), file_type)

    def decrypt(
        self, keys: KeyServices, *, verify_mac: bool = True, for_rewrite: bool = True
    ) -> DecryptedFile:
        """Open the data key and decrypt; ``for_rewrite=False`` when it won't be written back."""
        note_files([self.path])
        data_key = keys.open_data_key(self.metadata)
        cipher = ValueCipher(data_key, remember_ivs=for_rewrite)
        unauthenticated: list[list[str]] = []
        plain = decrypt_documents(
            self.documents,
            self.metadata,
            cipher,
            verify_mac=verify_mac,
            unauthenticated=unauthenticated,
        )
        return DecryptedFile(self, plain, cipher, data_key, unauthenticated)


class DecryptedFile:
    """A decrypted sops file, able to write itself back encrypted."""

    __slots__ = ("cipher", "data_key", "documents", "source", "unauthenticated")

    def __init__(
        self,
        source: EncryptedFile,
        documents: Documents,
        cipher: ValueCipher,
        data_key: bytes,
        unauthenticated: list[list[str]] | None = None,
    ) -> None:
        self.source = source
        self.documents = documents
        self.cipher = cipher
        self.data_key = data_key
        #: Paths of empty or null values the rule would encrypt: in clear and outside the MAC
        #: in every sops file, so anyone could have added them (see secrets_loader).
        self.unauthenticated: list[list[str]] = [] if unauthenticated is None else unauthenticated

    def __repr__(self) -> str:
        return f"DecryptedFile({self.source.path}, <plaintext hidden>)"

    def encrypt(self, documents: Documents | None = None, store: Store | None = None) -> bytes:
        """The file encrypted again with the same data key (unchanged values keep their IV)."""
        metadata = self.source.metadata
        encrypted = encrypt_documents(
            self.documents if documents is None else documents, metadata, self.cipher
        )
        return (store or self.source.store).dump_encrypted(encrypted, metadata.to_raw())


#: Values that hold keys of their own.
_NESTED: Final = frozenset((Branch, TreeSequence))


def _refuse_duplicate_keys(branch: Branch, path: list[str]) -> None:
    """A key twice is tampering the MAC cannot see (``DBPASS=`` appended after the real one)."""
    items = [entry for entry in branch if type(entry) is tuple]  # not comments
    mapping = dict(items)  # C-level: a key twice is one entry
    if len(mapping) == len(items) and _NESTED.isdisjoint(map(type, mapping.values())):
        return  # the common case, a flat file: no Python step per key beyond these
    seen: set[str] = set()
    for key, value in items:
        if key in seen:
            where = "".join(f"[{part!r}]" for part in [*path, key])
            raise IntegrityError(
                f"the key {where} occurs twice: sops' MAC does not cover keys, so a second "
                "entry (even an empty one) may have been added by someone without the key",
                "remove the duplicate (restore the file from version control), then check who "
                "changed the file",
            )
        seen.add(key)
        if isinstance(value, Branch):
            _refuse_duplicate_keys(value, [*path, key])
        elif isinstance(value, TreeSequence):
            for index, element in enumerate(value):
                if isinstance(element, Branch):
                    _refuse_duplicate_keys(element, [*path, key, str(index)])


def _has_metadata(document: Branch, file_type: FileType) -> bool:
    if file_type == "dotenv":
        return any(key.startswith("sops_") for key in document.keys())
    return document.index_of("sops") >= 0


def encrypt_new(
    data: bytes,
    file_type: FileType,
    metadata: Metadata,
    keys: KeyServices,
    output: FileType | None = None,
) -> bytes:
    """Encrypt a plaintext file for the recipients named in ``metadata``."""
    store = store_for(file_type)
    documents = store.load_plain(data)
    if any(_has_metadata(document, file_type) for document in documents):
        raise AlreadyEncryptedError(
            "the file is already encrypted: it has a top-level `sops` entry",
            "change it with `secure-up set` or `secure-up edit`; if it is really plaintext, "
            "rename that entry",
        )
    data_key = new_data_key()
    keys.wrap_data_key(metadata, data_key)
    encrypted = encrypt_documents(documents, metadata, ValueCipher(data_key))
    out_store = store_for(output) if output else store
    try:
        return out_store.dump_encrypted(encrypted, metadata.to_raw())
    except FormatError as error:  # sops' ErrorDumpingTree: exit 4
        raise OutputConversionError(error.what, error.fix) from None
