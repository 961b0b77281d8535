"""``decrypt``, ``encrypt`` and ``filestatus``: sops' own verbs, done natively."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from secure_up.errors import (
    FormatError,
    OutputConversionError,
    SecureUpError,
)
from secure_up.keys.services import KeyServices, key_services
from secure_up.sopsfile import (
    EncryptedFile,
    encrypt_new,
    file_type_for,
    is_encrypted,
    read_input,
    store_for,
)
from secure_up.system.process_exit import leave_to_exit


def keys_for(environ: Mapping[str, str]) -> AbstractContextManager[KeyServices]:
    """The master keys for this run; leaving the block removes what they made (a keyring)."""
    return key_services(environ, interactive=sys.stdin.isatty())


def _write_stdout(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def decrypt(
    path: Path,
    *,
    extract: str | None = None,
    input_type: str | None = None,
    output_type: str | None = None,
    ignore_mac: bool = False,
    environ: Mapping[str, str] | None = None,
) -> None:
    environ = os.environ if environ is None else environ
    components = None
    if extract:
        from secure_up.sopsfile.extract import parse_path  # only with --extract: 0.5 ms

        components = parse_path(extract)
    out_type = file_type_for(path, output_type or input_type)
    encrypted = EncryptedFile.read(path, input_type)
    with keys_for(environ) as keys:
        decrypted = encrypted.decrypt(keys, verify_mac=not ignore_mac, for_rewrite=False)
    out_store = store_for(out_type)
    with _dumping():
        if components is not None:
            from secure_up.sopsfile.extract import extract_value

            output = out_store.dump_value(extract_value(decrypted.documents[0], components))
        else:
            output = out_store.dump_plain(decrypted.documents)
    _write_stdout(output)
    leave_to_exit(encrypted, decrypted)  # the exit frees them at once, 1.5 ms sooner


@contextmanager
def _dumping() -> Iterator[None]:
    """A document the output type cannot hold exits 4, as sops' ErrorDumpingTree."""
    try:
        yield
    except FormatError as error:
        raise OutputConversionError(error.what, error.fix) from None


def filestatus(path: Path, *, input_type: str | None = None) -> None:
    """Print whether ``path`` is a sops file, as ``sops filestatus`` does.

    Encrypted means sops metadata with a MAC. A file that cannot be read or parsed
    is an error with exit code 1, as in sops (a plaintext binary file is not JSON).
    """
    file_type = file_type_for(path, input_type)
    try:
        encrypted = is_encrypted(read_input(path), file_type)
    except SecureUpError as error:
        raise SecureUpError(error.what, error.fix) from None  # sops exits 1 on any failure
    _write_stdout(b'{"encrypted":true}\n' if encrypted else b'{"encrypted":false}\n')


def encrypt(
    path: Path,
    *,
    pgp: str | None,
    in_place: bool,
    input_type: str | None,
    output_type: str | None,
    rules: Mapping[str, str],
    mac_only_encrypted: bool,
    config: Path | None,
    environ: Mapping[str, str] | None = None,
    kms: str | None = None,
    encryption_context: str | None = None,
    age: str | None = None,
) -> None:
    from secure_up.sopsfile.creation import new_metadata  # encrypt only: decrypt starts lean

    environ = os.environ if environ is None else environ
    file_type = file_type_for(path, input_type)
    out_type = file_type_for(path, output_type) if output_type else file_type
    metadata = new_metadata(
        path,
        pgp=pgp,
        age=age,
        rules=rules,
        mac_only_encrypted=mac_only_encrypted,
        config=config,
        environ=environ,
        binary=out_type == "binary",
        kms=kms,
        encryption_context=encryption_context,
    )
    data = read_input(path)
    with keys_for(environ) as keys:
        output = encrypt_new(data, file_type, metadata, keys, out_type)
    if in_place:
        from secure_up.system.atomic import atomic_write  # only -i writes a file

        atomic_write(path, output)
    else:
        _write_stdout(output)
