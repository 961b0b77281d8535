"""The five sops file formats ("stores"): bytes in, a tree and raw metadata out, and back.

Stores are pure: no I/O, no crypto. They turn file bytes into
:class:`~secure_up.sops.tree.Branch` documents plus the ``sops`` metadata as
plain nested data (dicts, lists, strings), and turn them back into bytes laid
out exactly as the real sops lays them out. Encryption happens elsewhere
(:mod:`secure_up.sops.engine`); a store sees ``ENC[...]`` strings as strings.
"""

from __future__ import annotations

import importlib
from pathlib import PurePath
from typing import Any, Literal, Protocol, TypeAlias

from secure_up.errors import UsageError
from secure_up.sops.tree import Documents, Node

FileType: TypeAlias = Literal["yaml", "json", "dotenv", "ini", "binary"]
FILE_TYPES: tuple[FileType, ...] = ("yaml", "json", "dotenv", "ini", "binary")

#: Raw metadata: the ``sops`` section as plain nested data.
RawMetadata: TypeAlias = dict[str, Any]

_SUFFIXES: dict[str, FileType] = {
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".env": "dotenv",
    ".ini": "ini",
}

_MODULES: dict[FileType, str] = {
    "yaml": "yaml_store",
    "json": "json_store",
    "dotenv": "dotenv_store",
    "ini": "ini_store",
    "binary": "binary_store",
}


class Store(Protocol):
    """What every format implements."""

    def load_encrypted(self, data: bytes) -> tuple[Documents, RawMetadata]:
        """Documents (without the metadata) and the raw ``sops`` metadata.

        Raises :class:`~secure_up.errors.NotEncryptedError` when there is no
        metadata and :class:`~secure_up.errors.FormatError` on malformed input.
        """

    def load_plain(self, data: bytes) -> Documents:
        """Documents of a plaintext file."""

    def dump_encrypted(self, documents: Documents, metadata: RawMetadata) -> bytes:
        """The file as sops writes it, metadata included."""

    def dump_plain(self, documents: Documents) -> bytes:
        """The plaintext file, as ``sops decrypt`` prints it."""

    def dump_value(self, value: Node) -> bytes:
        """One extracted value, as ``sops decrypt --extract`` prints it."""


def file_type_for(path: str | PurePath, given: str | None = None) -> FileType:
    """The format of ``path``: ``given`` when set, else by suffix, as sops does."""
    if given:
        normalized = "dotenv" if given == "env" else given
        if normalized not in FILE_TYPES:
            raise UsageError(
                f"unknown file type {given!r}",
                f"use one of: {', '.join(FILE_TYPES)}",
            )
        return normalized
    return _SUFFIXES.get(PurePath(path).suffix, "binary")


def store_for(file_type: FileType) -> Store:
    """The store for ``file_type`` (imported on first use: start-up stays lean)."""
    module = importlib.import_module(f"secure_up.sops.stores.{_MODULES[file_type]}")
    store: Store = module.STORE
    return store
