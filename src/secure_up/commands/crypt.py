"""``decrypt``, ``encrypt`` and ``filestatus``: sops' own verbs, done natively."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from secure_up.errors import (
    ConfigError,
    FormatError,
    NotEncryptedError,
    OutputConversionError,
    SecureUpError,
    UsageError,
)
from secure_up.keys.kms import new_key as kms_key
from secure_up.keys.kms import parse_context
from secure_up.keys.registry import KINDS, new_key
from secure_up.keys.services import KeyServices, key_services
from secure_up.sops.metadata import KeyGroup, KmsKey, Metadata, parse_metadata
from secure_up.sops.rules import DEFAULT_RULE, EncryptionRule, RuleKind
from secure_up.sops.stores import file_type_for, store_for
from secure_up.sopsfile import EncryptedFile, encrypt_new, read_input
from secure_up.sopsfile.extract import extract_value, parse_path


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
    components = parse_path(extract) if extract else None
    out_type = file_type_for(path, output_type or input_type)
    encrypted = EncryptedFile.read(path, input_type)
    with keys_for(environ) as keys:
        decrypted = encrypted.decrypt(keys, verify_mac=not ignore_mac, for_rewrite=False)
    out_store = store_for(out_type)
    with _dumping():
        if components is not None:
            output = out_store.dump_value(extract_value(decrypted.documents[0], components))
        else:
            output = out_store.dump_plain(decrypted.documents)
    _write_stdout(output)


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
        data = read_input(path)
        try:
            # sops reads a binary file's envelope as JSON: a plaintext binary file is an error.
            store = store_for("json" if file_type == "binary" else file_type)
            _, raw = store.load_encrypted(data)
            encrypted = bool(parse_metadata(raw).mac)
        except NotEncryptedError:
            encrypted = False
    except SecureUpError as error:
        raise SecureUpError(error.what, error.fix) from None  # sops exits 1 on any failure
    _write_stdout(b'{"encrypted":true}\n' if encrypted else b'{"encrypted":false}\n')


def _rule_from_options(rules: Mapping[str, str]) -> EncryptionRule | None:
    if len(rules) > 1:
        raise UsageError(
            f"give at most one encryption rule (got {', '.join(sorted(rules))})",
            "sops files carry a single rule; pick the one that fits",
        )
    for kind, value in rules.items():
        return EncryptionRule(kind, value)  # type: ignore[arg-type]
    return None


def new_metadata(
    path: Path,
    *,
    pgp: str | None,
    rules: Mapping[str, str],
    mac_only_encrypted: bool,
    config: Path | None,
    environ: Mapping[str, str],
    binary: bool,
    kms: str | None = None,
    encryption_context: str | None = None,
    age: str | None = None,
) -> Metadata:
    """Recipients and rule for a new file: from the options, else from .sops.yaml."""
    rule = _rule_from_options(rules)
    if pgp or kms or age:
        # One key group, as sops makes from --pgp, --age and --kms.
        fingerprints = [fp.strip().replace(" ", "").upper() for fp in (pgp or "").split(",")]
        recipients = [("pgp", fp) for fp in fingerprints if fp]
        recipients += [("age", r.strip()) for r in (age or "").split(",") if r.strip()]
        keys = [new_key(kind, who) for kind, who in recipients]
        context = parse_context(encryption_context or "")
        keys += [kms_key(arn, context=context) for arn in (kms or "").split(",") if arn.strip()]
        groups = [KeyGroup(keys=keys)]
        threshold = 0
    else:
        from secure_up.sopsfile.config import (  # PyYAML: only when needed
            find_config,
            load_config,
        )
        from secure_up.sopsfile.recipients import rule_recipients

        config_path = find_config(Path.cwd(), config, environ)
        if config_path is None:
            raise ConfigError(
                f"no recipients for {path}: no --pgp, --age or --kms given, and no .sops.yaml "
                f"in {Path.cwd()} or above it (it is searched from the current directory, as "
                "sops does)",
                "pass --pgp FINGERPRINT, --age RECIPIENT or --kms ARN, run where your "
                ".sops.yaml is, or name it with --config",
            )
        creation = load_config(config_path).rule_for(path)
        groups = [
            KeyGroup(keys=[new_key(*r) for r in rule_recipients(spec) if r[0] in KINDS])
            for spec in creation.key_groups
        ]
        groups = [group for group in groups if group.keys]
        if encryption_context:  # as sops: for the rule's kms keys that name no context
            context = parse_context(encryption_context)
            for key in (key for group in groups for key in group.keys):
                if isinstance(key, KmsKey) and not key.context:
                    key.context = dict(context)
        if not groups:
            raise ConfigError(
                f"the creation rule of {config_path} for {path} names no key secure-up can "
                f"encrypt with ({', '.join(KINDS)})",
                "add pgp fingerprints, age recipients or kms ARNs to the rule",
            )
        threshold = creation.shamir_threshold
        if rule is None and creation.encryption_rule is not None:
            kind, value = creation.encryption_rule
            rule = EncryptionRule(_rule_kind(kind), value)
        mac_only_encrypted = mac_only_encrypted or creation.mac_only_encrypted
    if rule is None and not binary:
        rule = DEFAULT_RULE
    return Metadata(
        key_groups=groups,
        rule=rule,
        mac_only_encrypted=mac_only_encrypted,
        shamir_threshold=threshold,
    )


def _rule_kind(kind: str) -> RuleKind:
    return kind  # type: ignore[return-value]


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
