"""Who can open a file: a new data key (``rotate``) or the same one re-wrapped (``updatekeys``).

``rotate`` makes a new data key and encrypts every value again with a fresh IV;
``update_recipients`` wraps the file's *own* data key for the recipients a
creation rule names now (values and their ciphertext are unchanged). Both
return the new file's bytes; writing them (locked, atomically) is the caller's.
"""

from __future__ import annotations

from collections.abc import Sequence

from secure_up.keys.kms import recipient as kms_recipient
from secure_up.keys.registry import KINDS, new_key
from secure_up.keys.services import KeyServices, new_data_key
from secure_up.sops.cipher import ValueCipher
from secure_up.sops.engine import encrypt_documents
from secure_up.sopsfile.config import CreationRule
from secure_up.sopsfile.file import DecryptedFile, EncryptedFile
from secure_up.sopsfile.recipients import (
    Recipient,
    RecipientChange,
    change_recipients,
    parse_fingerprint,
    plan_recipients,
    refuse_keys_we_cannot_wrap,
)


def recipient_options(
    *,
    add_pgp: Sequence[str] = (),
    rm_pgp: Sequence[str] = (),
    add_age: Sequence[str] = (),
    rm_age: Sequence[str] = (),
    add_kms: Sequence[str] = (),
    rm_kms: Sequence[str] = (),
) -> tuple[list[Recipient], list[Recipient]]:
    """(added, removed) from ``rotate``'s ``--add-KIND`` / ``--rm-KIND`` options, each checked."""
    added = [("pgp", parse_fingerprint(fp, "--add-pgp")) for fp in add_pgp]
    removed = [("pgp", parse_fingerprint(fp, "--rm-pgp")) for fp in rm_pgp]
    # As sops, each value may be a comma-separated list; kms_recipient checks each ARN.
    added += [("kms", kms_recipient(arn)) for value in add_kms for arn in value.split(",") if arn]
    removed += [("kms", kms_recipient(arn)) for value in rm_kms for arn in value.split(",") if arn]
    added += [("age", new_key("age", recipient).identifier) for recipient in add_age]
    removed += [("age", recipient.strip()) for recipient in rm_age]
    return added, removed


def rotate(
    decrypted: DecryptedFile,
    keys: KeyServices,
    added: Sequence[Recipient] = (),
    removed: Sequence[Recipient] = (),
) -> bytes:
    """The file under a new data key, recipients changed as asked; every value re-encrypted.

    Changes ``decrypted.source.metadata`` in place (its recipients, their wrapped keys).
    """
    source = decrypted.source
    metadata = source.metadata
    refuse_keys_we_cannot_wrap(metadata, source.path, frozenset(KINDS))
    change_recipients(metadata, added, removed, source.path, new_key)
    data_key = new_data_key()
    keys.wrap_data_key(metadata, data_key)
    # A fresh cipher remembers no IVs: every value gets a new one.
    documents = encrypt_documents(decrypted.documents, metadata, ValueCipher(data_key))
    return source.store.dump_encrypted(documents, metadata.to_raw())


def plan_update(encrypted: EncryptedFile, rule: CreationRule) -> RecipientChange:
    """How ``encrypted``'s recipients differ from what ``rule`` names (nothing changed yet)."""
    return plan_recipients(encrypted.metadata, rule, encrypted.path, new_key, frozenset(KINDS))


def update_recipients(
    encrypted: EncryptedFile, change: RecipientChange, keys: KeyServices
) -> bytes:
    """The file with its data key wrapped for ``change``'s key groups; values unchanged."""
    decrypted = encrypted.decrypt(keys)
    metadata = encrypted.metadata
    metadata.key_groups = change.groups
    metadata.shamir_threshold = change.threshold
    keys.wrap_data_key(metadata, decrypted.data_key, only_new=not change.resplit)
    return decrypted.encrypt()


def recipients_of(file: EncryptedFile) -> list[str]:
    """Who can open ``file``: each master key as sops names it."""
    return [key.identifier for key in file.metadata.master_keys]
