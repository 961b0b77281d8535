"""What a secrets file yields: environment variables for the child process.

- dotenv, YAML, JSON and INI sops files: their top-level keys (a nested value is
  an error naming the key: an environment variable holds text, not a tree);
- a binary sops file such as the book's ``environment.secrets``: its plaintext
  parsed as a shell env file, exactly as ``source`` would set the variables
  (sops' own ``exec-env`` yields a single variable ``data`` here).

Later files win over earlier ones, name by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from secure_up.audit.record import note_variables
from secure_up.errors import FormatError, IntegrityError
from secure_up.keys.services import KeyServices
from secure_up.launch.secret_values import SecretValues
from secure_up.sopsfile import (
    Branch,
    Documents,
    EncryptedFile,
    Node,
    TreeSequence,
    format_float,
    from_bytes,
)


def load_secret_values(
    paths: Sequence[Path], keys: KeyServices, *, data_keys: list[bytes] | None = None
) -> SecretValues:
    """Decrypt every file in memory and merge their variables (later files win).

    ``data_keys``, when given, receives each file's data key (deploy derives its
    secret-naming key from them).
    """
    merged = SecretValues()
    for path in paths:
        encrypted = EncryptedFile.read(path)
        decrypted = encrypted.decrypt(keys, for_rewrite=False)
        # Top-level values become variables (a binary file's payload is covered by the MAC).
        loose = [where for where in decrypted.unauthenticated if len(where) == 1]
        if loose and encrypted.file_type != "binary":
            raise _unauthenticated_empty(path, loose[0])
        if data_keys is not None:
            data_keys.append(decrypted.data_key)
        if encrypted.file_type == "binary":
            # Only binary payloads are shell text: other files never load the shell parser.
            from secure_up.launch.shellenv import parse_shell_env

            payload = decrypted.documents[0].get("data")
            values = parse_shell_env(payload if isinstance(payload, str) else "", str(path))
        else:
            values = variables_of(decrypted.documents, path)
        for name, value in values.items():
            _check_variable(name, value, path)
        merged = merged.merged(SecretValues(values, {name: str(path) for name in values}))
        note_variables(values)  # names only
    return merged


def _unauthenticated_empty(path: Path, where: list[str]) -> IntegrityError:
    """The policy for empty values: never handed to a program.

    sops writes an empty or null value in clear even where the file's rule
    encrypts values, and its MAC hashes no bytes for it: ``echo DBPASS= >> file``
    passes sops' MAC check. Such a value cannot be told apart from one sops wrote,
    so ``decrypt`` shows it (as sops does), but a program never gets it.
    """
    name = ":".join(where)
    return IntegrityError(
        f"{path}: {name} is empty (or null) and in clear, though the file's rule encrypts "
        "it; sops' MAC does not cover empty values, so anyone could have added it, and "
        "secure-up hands no such value to a program",
        f"if it was not you, restore the file from version control; to have it set, store a "
        f"value with `secure-up set {path} {name}`; for an empty variable, remove it from the "
        "file and give it an empty default where it is used (${" + name + ":-})",
    )


def variables_of(documents: Documents, path: Path) -> dict[str, str]:
    """The top-level keys of a structured file as environment variables."""
    values: dict[str, str] = {}
    for document in documents:
        for key, value in document.items_only():
            values[key] = _as_text(key, value, path)
    return values


def _as_text(key: str, value: Node, path: Path) -> str:
    if isinstance(value, Branch | TreeSequence):
        kind = "map" if isinstance(value, Branch) else "list"
        raise FormatError(
            f"{path}: the value of {key} is a nested {kind}, which cannot be an environment "
            "variable",
            "keep secrets for the environment at the top level of the file, one key per variable",
        )
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, bytes):
        return from_bytes(value)
    return str(value)


def _check_variable(name: str, value: str, path: Path) -> None:
    if not name or "=" in name or "\0" in name:
        raise FormatError(
            f"{path}: the key {name!r} cannot be an environment variable name",
            "rename it: names may not be empty or contain '=' or NUL",
        )
    if "\0" in value:
        raise FormatError(
            f"{path}: the value of {name} contains a NUL byte, which no environment can carry",
            "store that value base64-encoded and decode it in the container",
        )
