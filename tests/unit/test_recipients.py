"""Recipient changes: ``rotate``'s --add-pgp and --rm-pgp, ``updatekeys``' creation rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from secure_up.errors import ConfigError, SecureUpError, UsageError
from secure_up.sops.metadata import GcpKmsKey, KeyGroup, MasterKey, Metadata, PgpKey
from secure_up.sopsfile.config import CreationRule, KeyGroupSpec
from secure_up.sopsfile.recipients import (
    RecipientChange,
    change_recipients,
    parse_fingerprint,
    plan_recipients,
    refuse_keys_we_cannot_wrap,
)

FILE = Path("secrets/app.yaml")
A, B, C, D = "A" * 40, "B" * 40, "C" * 40, "D" * 40
#: A master key kind secure-up cannot wrap for.
GCP = GcpKmsKey(resource_id="projects/p/locations/l/keyRings/r/cryptoKeys/k", enc="wrapped")
WRAPPABLE = frozenset({"pgp"})


def new_key(kind: str, recipient: str) -> MasterKey:
    assert kind == "pgp"
    return PgpKey(fingerprint=recipient)


def metadata(*groups: list[str], others: list[MasterKey] | None = None) -> Metadata:
    """Key groups of wrapped PGP keys (``enc`` names the fingerprint it stands for)."""
    return Metadata(
        key_groups=[
            KeyGroup(
                keys=[PgpKey(fingerprint=fp, enc=f"wrapped-{fp[0]}") for fp in fps]
                + list(others or [])
            )
            for fps in groups
        ]
    )


def plan(meta: Metadata, creation: CreationRule) -> RecipientChange:
    return plan_recipients(meta, creation, FILE, new_key, WRAPPABLE)


def change(meta: Metadata, added: list[str], removed: list[str]) -> None:
    pgp = [("pgp", fp) for fp in added], [("pgp", fp) for fp in removed]
    change_recipients(meta, *pgp, path=FILE, new_key=new_key)


def rule(*groups: list[str], threshold: int = 0) -> CreationRule:
    return CreationRule(
        key_groups=[KeyGroupSpec(pgp=fps) for fps in groups],
        shamir_threshold=threshold,
        origin=".sops.yaml:3",
    )


def fingerprints(meta: Metadata) -> list[list[str]]:
    return [[key.fingerprint for key in group.pgp] for group in meta.key_groups]


def test_a_fingerprint_is_written_as_sops_writes_it() -> None:
    spaced = " ".join(["abcd"] * 10)
    assert parse_fingerprint(spaced, "--add-pgp") == "ABCD" * 10
    assert parse_fingerprint("f" * 64, "--rm-pgp") == "F" * 64


@pytest.mark.parametrize("text", ["", "ABCD1234", "G" * 40, "A" * 41, "0x" + "A" * 40])
def test_anything_but_a_full_fingerprint_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match=r"--add-pgp .* is not a full PGP fingerprint"):
        parse_fingerprint(text, "--add-pgp")


def test_rotate_adds_to_the_first_group_and_removes_from_every_group() -> None:
    meta = metadata([A, B], [C, B])
    change(meta, [D], [B])
    assert fingerprints(meta) == [[A, D], [C]]


def test_rotate_adding_a_present_recipient_changes_nothing() -> None:
    meta = metadata([A], [C])
    change(meta, [C], [])
    assert fingerprints(meta) == [[A], [C]]


def test_rotate_re_adding_a_removed_recipient_keeps_it() -> None:
    meta = metadata([A, B])
    change(meta, [B], [B])
    assert fingerprints(meta) == [[A, B]]


def test_rotate_refuses_to_remove_who_is_not_a_recipient() -> None:
    with pytest.raises(UsageError, match=f"{C} is not a recipient of {FILE}"):
        change(metadata([A]), [], [C])


def test_rotate_refuses_to_leave_a_group_empty() -> None:
    with pytest.raises(UsageError, match=r"would leave key group 2 of .* empty"):
        change(metadata([A], [B]), [C], [B])


def test_rotate_refuses_key_types_it_cannot_wrap_a_new_data_key_for() -> None:
    refuse_keys_we_cannot_wrap(metadata([A]), FILE, WRAPPABLE)  # none listed: fine
    with pytest.raises(SecureUpError, match="can also be opened with gcp_kms keys"):
        refuse_keys_we_cannot_wrap(metadata([A], others=[GCP]), FILE, WRAPPABLE)


def test_updatekeys_keeps_wrapped_keys_and_lists_the_change() -> None:
    change = plan(metadata([A, B]), rule([A, C]))
    assert not change.resplit
    assert change.added == [(1, C)]
    assert change.removed == [(1, B)]
    (group,) = change.groups
    assert [(key.fingerprint, key.enc) for key in group.pgp] == [(A, "wrapped-A"), (C, "")]
    assert change.describe(FILE) == [f"{FILE}: recipients change", f"  +{C}", f"  -{B}"]


def test_updatekeys_with_nothing_to_change() -> None:
    change = plan(metadata([A, B]), rule([A, B]))
    assert change.is_empty


def test_updatekeys_splits_again_for_new_groups_and_threshold() -> None:
    change = plan(metadata([A, B]), rule([A], [C], threshold=2))
    assert change.resplit
    assert not change.is_empty
    assert change.added == [(2, C)]
    assert change.removed == [(1, B)]
    assert change.describe(FILE)[1:] == [
        f"  +{C} (key group 2)",
        f"  -{B} (key group 1)",
        "  shamir_threshold 0 -> 2",
    ]


def test_updatekeys_counts_the_recipients_of_dropped_groups_as_removed() -> None:
    change = plan(metadata([A], [B]), rule([A]))
    assert change.resplit
    assert change.removed == [(2, B)]


def test_updatekeys_keeps_other_key_types_unless_the_key_is_split_again() -> None:
    change = plan(metadata([A], others=[GCP]), rule([A, B]))
    assert change.groups[0].of_kind("gcp_kms") == [GCP]
    with pytest.raises(SecureUpError, match="has gcp_kms master keys") as caught:
        plan(metadata([A], others=[GCP]), rule([A], [B], threshold=2))
    assert caught.value.fix == f"run `sops updatekeys {FILE}`"


@pytest.mark.parametrize("groups", [[], [[A], []]])
def test_updatekeys_needs_pgp_keys_in_every_group_of_the_rule(groups: list[list[str]]) -> None:
    with pytest.raises(ConfigError, match=r"\.sops\.yaml:3 .* has a key group without keys"):
        plan(metadata([A]), rule(*groups))
