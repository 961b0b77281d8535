"""Changing one value of a decrypted document: the key path ``set`` and ``unset`` name.

Pure: a :class:`~secure_up.sops.tree.Branch` in, the same branch changed in
place; no file, no key, no I/O. Comments and the order of keys survive, so an
encrypted file's diff shows only the value that changed. Errors name the key
path, never a value.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from secure_up.errors import SecureUpError, UsageError
from secure_up.sops import tree
from secure_up.sops.cipher import looks_encrypted
from secure_up.sops.stores import FileType
from secure_up.sopsfile.extract import extract_value, parse_path

if TYPE_CHECKING:  # the type only: this module stays free of keys and files
    from secure_up.sopsfile.file import DecryptedFile

#: A value's place in a document: mapping keys and list indexes from the root.
KeyPath = list[str | int]


def parse_key(key: str, file_type: FileType) -> KeyPath:
    """``KEY`` or a sops path ``["a"]["b"]``, checked against what ``file_type`` can hold.

    INI files hold sections: a plain ``KEY`` means ``["DEFAULT"]["KEY"]`` (the
    keys above any section header). Binary files take a shell variable name.
    """
    if not key:
        raise UsageError("the key is empty", "name the key to set")
    if key.startswith("["):
        try:
            path: KeyPath = parse_path(key)
        except UsageError:
            raise UsageError(
                f"cannot read the key path {key!r}",
                """write it as sops does, e.g. '["database"]["password"]' or '["hosts"][0]'""",
            ) from None
    else:
        path = [key]
    if file_type == "ini" and len(path) == 1:
        path = ["DEFAULT", *path]
    _check_key_path(path, key, file_type)
    return path


def _check_key_path(path: KeyPath, key: str, file_type: FileType) -> None:
    top = path[0]
    if top == "sops" and file_type in ("yaml", "json", "ini"):
        raise UsageError("the top-level key `sops` holds the file's metadata", "use another key")
    if file_type == "binary" and (len(path) != 1 or not re.fullmatch(r"[A-Za-z_]\w*", str(top))):
        raise UsageError(
            f"{key!r} is not a shell variable name; a binary secrets file holds "
            "`export KEY=value` lines",
            "use letters, digits and underscores, not starting with a digit",
        )
    if file_type == "dotenv" and (
        len(path) != 1
        or not isinstance(top, str)
        or "=" in top
        or "\n" in top
        or top.startswith(("sops_", "#"))
    ):
        raise UsageError(
            f"{key!r} cannot be a dotenv key: one level, without `=`, "
            "not starting with `#` or `sops_`",
            "use a plain variable name",
        )
    if file_type == "ini" and (len(path) != 2 or not all(isinstance(p, str) for p in path)):
        raise UsageError(
            f"{key!r} is not an INI key: use KEY (section DEFAULT) or "
            """'["section"]["KEY"]'""",
            "INI files hold one level of keys per section",
        )


def assign(document: tree.Branch, key_path: KeyPath, value: str) -> None:
    """Set the value at ``key_path``, creating missing mappings on the way.

    An existing key keeps its place (and the comments around it); a new key
    is appended to its mapping. List elements must exist.
    """
    parent = _parent_of(document, key_path, create=True)
    last = key_path[-1]
    if isinstance(parent, tree.Branch) and isinstance(last, str):
        parent.set(last, value)
    elif isinstance(parent, tree.Sequence) and isinstance(last, int):
        parent[_element_index(parent, last, key_path)] = value
    else:
        raise _not_a_container(key_path, len(key_path) - 1)


def remove(document: tree.Branch, key_path: KeyPath, key: str, path: Path) -> None:
    """Remove the value at ``key_path``; an error names the key when it is absent."""
    try:
        parent = _parent_of(document, key_path, create=False)
        last = key_path[-1]
        if isinstance(parent, tree.Branch) and isinstance(last, str):
            if parent.remove_key(last):
                return
        elif isinstance(parent, tree.Sequence) and isinstance(last, int):
            del parent[_element_index(parent, last, key_path)]
            return
    except UsageError:
        pass
    raise SecureUpError(
        f"{path} has no {key}; nothing was changed",
        f"check the key names with `secure-up decrypt {path}` (keys are case-sensitive)",
    )


def stored_encrypted(decrypted: DecryptedFile, output: bytes, key_path: KeyPath) -> bool:
    """Whether the value at ``key_path`` in ``output`` (``decrypted`` written) is encrypted.

    The file's rule may leave it in clear (``unencrypted_suffix``, ``encrypted_regex``...).
    """
    documents, _ = decrypted.source.store.load_encrypted(output)
    node = extract_value(documents[0], key_path)
    return not isinstance(node, str) or looks_encrypted(node)


def _parent_of(document: tree.Branch, key_path: KeyPath, *, create: bool) -> tree.Node:
    node: tree.Node = document
    for depth, component in enumerate(key_path[:-1]):
        if create and isinstance(node, tree.Branch) and isinstance(component, str):
            if node.index_of(component) < 0:
                node.append((component, tree.Branch()))
        node = _child(node, component, key_path, depth)
    return node


def _child(node: tree.Node, component: str | int, key_path: KeyPath, depth: int) -> tree.Node:
    if isinstance(node, tree.Branch) and isinstance(component, str):
        index = node.index_of(component)
        entry = node[index] if index >= 0 else None
        if isinstance(entry, tuple):
            return entry[1]
    elif isinstance(node, tree.Sequence) and isinstance(component, int):
        return node[_element_index(node, component, key_path)]  # type: ignore[return-value]
    raise _not_a_container(key_path, depth)


def _element_index(sequence: tree.Sequence, index: int, key_path: KeyPath) -> int:
    """The list position of element ``index`` (comments in a list are not elements)."""
    positions = [i for i, item in enumerate(sequence) if not isinstance(item, tree.Comment)]
    if -len(positions) <= index < len(positions):
        return positions[index]
    raise UsageError(
        f"{_format_path(key_path)}: the list has no element {index}",
        "set existing list elements only; use `secure-up edit` to add one",
    )


def _not_a_container(key_path: KeyPath, depth: int) -> UsageError:
    return UsageError(
        f"{_format_path(key_path[: depth + 1])} does not exist or does not hold "
        f"{'a list' if isinstance(key_path[depth], int) else 'a mapping'}",
        "check the key path with `secure-up decrypt FILE`",
    )


def _format_path(key_path: KeyPath) -> str:
    return "".join(f"[{c}]" if isinstance(c, int) else f'["{c}"]' for c in key_path)
