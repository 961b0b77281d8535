"""A new sops file's metadata: its recipients and encryption rule, before any value is encrypted.

From ``encrypt``'s options (``--pgp``, ``--age``, ``--kms``, ``--encryption-context``,
one ``--encrypted-regex``-like rule) or, without recipients there, from the
``.sops.yaml`` creation rule for the file, as sops does. Also a small sops file of
our own for the recipients of another (renew's pending record).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from secure_up.errors import ConfigError, UsageError
from secure_up.keys.kms import new_key as kms_key
from secure_up.keys.kms import parse_context
from secure_up.keys.registry import KINDS, new_key
from secure_up.keys.services import KeyServices, new_data_key
from secure_up.sops import tree
from secure_up.sops.cipher import ValueCipher
from secure_up.sops.engine import encrypt_documents
from secure_up.sops.metadata import KeyGroup, KmsKey, MasterKey, Metadata
from secure_up.sops.rules import DEFAULT_RULE, EncryptionRule, RuleKind
from secure_up.sops.stores import FileType, store_for


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


def check_recipient(kind: str, recipient: str) -> None:
    """Refuse what is not a ``kind`` recipient secure-up can encrypt to, saying what is wrong."""
    new_key(kind, recipient)


def encrypt_document(
    plain: Mapping[str, object],
    file_type: FileType,
    like: Metadata,
    rule: tuple[RuleKind, str],
    keys: KeyServices,
) -> bytes:
    """A new one-document sops file of ``plain`` for the recipients of ``like``.

    Same key groups and Shamir threshold as ``like``, a data key of its own,
    and ``rule`` (e.g. ``("encrypted_regex", "^new_values$")``) for what is encrypted.
    """
    metadata = Metadata(
        key_groups=[KeyGroup([_unwrapped(key) for key in group.keys]) for group in like.key_groups],
        rule=EncryptionRule(*rule),
        shamir_threshold=like.shamir_threshold,
    )
    data_key = new_data_key()
    keys.wrap_data_key(metadata, data_key)
    document = tree.Branch((name, tree.from_plain(value)) for name, value in plain.items())
    encrypted = encrypt_documents([document], metadata, ValueCipher(data_key))
    return store_for(file_type).dump_encrypted(encrypted, metadata.to_raw())


def _unwrapped(key: MasterKey) -> MasterKey:
    """``key``'s recipient without its wrapped data key: the new file wraps its own."""
    raw = {name: value for name, value in key.to_raw().items() if name not in ("enc", "created_at")}
    return type(key).from_raw(raw)
