"""The engine on in-memory trees: round trips, rules, the MAC, tamper detection."""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secure_up.errors import FormatError, IntegrityError, MacNotFoundError
from secure_up.sops.cipher import ValueCipher, format_float, looks_encrypted
from secure_up.sops.engine import decrypt_documents, encrypt_documents
from secure_up.sops.metadata import KeyGroup, Metadata, PgpKey, parse_metadata
from secure_up.sops.rules import EncryptionRule
from secure_up.sops.tree import Branch, Comment, Sequence, Time, from_plain, to_plain


def _metadata(rule: EncryptionRule | None = None, mac_only: bool = False) -> Metadata:
    return Metadata(
        key_groups=[KeyGroup(keys=[PgpKey(fingerprint="ABCD")])],
        rule=rule,
        mac_only_encrypted=mac_only,
    )


def _document() -> Branch:
    doc = from_plain(
        {
            "password": "hunter2",
            "port": 5432,
            "ratio": 1.5,
            "enabled": True,
            "nothing": None,
            "empty": "",
            "hosts": [{"name": "a", "ip": "1.2.3.4"}, "b", 3],
            "public_unencrypted": "visible",
        }
    )
    assert isinstance(doc, Branch)
    doc.insert(0, Comment(" top comment"))
    doc.set("when", Time("2024-01-02T03:04:05Z"))
    return doc


def test_round_trip_keeps_values_types_and_comments() -> None:
    key = os.urandom(32)
    metadata = _metadata()
    encrypted = encrypt_documents([_document()], metadata, ValueCipher(key))
    assert looks_encrypted(encrypted[0].get("password"))
    assert encrypted[0].get("public_unencrypted") == "visible"
    assert encrypted[0].get("empty") == ""
    assert encrypted[0].get("nothing") is None
    comment = encrypted[0][0]
    assert isinstance(comment, Comment)
    assert looks_encrypted(comment.text)
    plain = decrypt_documents(encrypted, metadata, ValueCipher(key))
    assert to_plain(plain[0]) == to_plain(_document())
    assert plain[0][0] == Comment(" top comment")
    assert isinstance(plain[0].get("when"), Time)


def test_unchanged_values_keep_their_ciphertext() -> None:
    key = os.urandom(32)
    metadata = _metadata()
    first = encrypt_documents([_document()], metadata, ValueCipher(key))
    reader = ValueCipher(key)
    plain = decrypt_documents(first, metadata, reader)
    plain[0].set("port", 6543)
    second = encrypt_documents(plain, metadata, reader)
    assert second[0].get("password") == first[0].get("password")
    assert second[0].get("port") != first[0].get("port")


@pytest.mark.parametrize("key", ["password", "port", "enabled"])
def test_a_value_moved_or_altered_is_refused(key: str) -> None:
    cipher_key_ = os.urandom(32)
    metadata = _metadata()
    encrypted = encrypt_documents([_document()], metadata, ValueCipher(cipher_key_))
    doc = encrypted[0]
    # Swap the value into another key: its AAD no longer matches.
    doc.set(key, doc.get("ratio"))
    with pytest.raises(IntegrityError) as caught:
        decrypt_documents(encrypted, metadata, ValueCipher(cipher_key_))
    assert key in caught.value.what
    assert "hunter2" not in caught.value.diagnostics()


def test_removed_key_is_a_mac_mismatch() -> None:
    key = os.urandom(32)
    metadata = _metadata()
    encrypted = encrypt_documents([_document()], metadata, ValueCipher(key))
    encrypted[0].remove_key("port")
    with pytest.raises(IntegrityError, match="MAC mismatch"):
        decrypt_documents(encrypted, metadata, ValueCipher(key))
    # ... which --ignore-mac reads anyway.
    plain = decrypt_documents(encrypted, metadata, ValueCipher(key), verify_mac=False)
    assert plain[0].get("password") == "hunter2"


def test_clear_text_value_added_by_hand_is_refused() -> None:
    key = os.urandom(32)
    metadata = _metadata()
    encrypted = encrypt_documents([_document()], metadata, ValueCipher(key))
    encrypted[0].set("injected", "plain")
    with pytest.raises(IntegrityError, match="injected"):
        decrypt_documents(encrypted, metadata, ValueCipher(key))


def test_tampered_lastmodified_breaks_the_mac() -> None:
    key = os.urandom(32)
    metadata = _metadata()
    encrypted = encrypt_documents([_document()], metadata, ValueCipher(key))
    metadata.lastmodified = "2001-01-01T00:00:00Z"
    with pytest.raises(IntegrityError, match="lastmodified"):
        decrypt_documents(encrypted, metadata, ValueCipher(key))


def test_missing_mac() -> None:
    key = os.urandom(32)
    metadata = _metadata()
    encrypted = encrypt_documents([_document()], metadata, ValueCipher(key))
    metadata.mac = ""
    with pytest.raises(MacNotFoundError):
        decrypt_documents(encrypted, metadata, ValueCipher(key))


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("ENC[AES256_GCM,data:abc", FormatError),
        ("ENC[AES256_GCM,data:!!!,iv:AAAA,tag:AAAA,type:str]", FormatError),
        ("ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAA,type:str]", IntegrityError),
        (
            "ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:nope]",
            FormatError,
        ),
    ],
)
def test_malformed_values(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        ValueCipher(os.urandom(32)).decrypt(text, "k:")


def test_the_opener_hands_each_values_bytes_to_the_mac_in_order_but_no_comment() -> None:
    cipher = ValueCipher(os.urandom(32))
    texts = [
        cipher.encrypt("pässword", "a:"),
        cipher.encrypt(Comment(" a comment"), "b:"),
        cipher.encrypt(5432, "c:"),
        cipher.encrypt(True, "d:"),
    ]
    hashed: list[bytes] = []
    open_value = cipher.opener(hashed.append)
    opened = [
        open_value(text, aad) for text, aad in zip(texts, ["a:", "b:", "c:", "d:"], strict=True)
    ]
    assert opened[0] == "pässword"
    assert opened[1] == Comment(" a comment")
    assert opened[2:] == [5432, True]
    assert hashed == ["pässword".encode(), b"5432", b"True"]


@pytest.mark.parametrize(
    ("aad", "message"),
    [
        ("db:password:", "the value at db:password failed authentication"),
        ("", "the value at (top level) failed authentication"),
    ],
)
def test_errors_name_where_the_value_is(aad: str, message: str) -> None:
    text = ValueCipher(os.urandom(32)).encrypt("x", aad)
    with pytest.raises(IntegrityError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ValueCipher(os.urandom(32)).decrypt(text, aad)


def test_encrypted_regex_leaves_the_rest_clear() -> None:
    key = os.urandom(32)
    metadata = _metadata(EncryptionRule("encrypted_regex", "^pass"))
    encrypted = encrypt_documents([_document()], metadata, ValueCipher(key))
    assert looks_encrypted(encrypted[0].get("password"))
    assert encrypted[0].get("port") == 5432
    plain = decrypt_documents(encrypted, metadata, ValueCipher(key))
    assert to_plain(plain[0]) == to_plain(_document())


def test_mac_only_encrypted_allows_editing_clear_values() -> None:
    key = os.urandom(32)
    metadata = _metadata(EncryptionRule("encrypted_regex", "^pass"), mac_only=True)
    encrypted = encrypt_documents([_document()], metadata, ValueCipher(key))
    encrypted[0].set("port", 1)
    plain = decrypt_documents(encrypted, metadata, ValueCipher(key))
    assert plain[0].get("port") == 1


def test_comment_rules() -> None:
    doc = Branch([Comment(" sops:plain"), ("a", "x"), ("b", "y")])
    metadata = _metadata(EncryptionRule("unencrypted_comment_regex", "sops:plain"))
    encrypted = encrypt_documents([doc], metadata, ValueCipher(os.urandom(32)))
    assert encrypted[0].get("a") == "x"
    assert looks_encrypted(encrypted[0].get("b"))
    assert encrypted[0][0] == Comment(" sops:plain")


def test_sequences_share_their_parent_path() -> None:
    key = os.urandom(32)
    cipher = ValueCipher(key)
    doc = Branch([("hosts", Sequence(["a", "b"]))])
    encrypted = encrypt_documents([doc], _metadata(), cipher)
    hosts = encrypted[0].get("hosts")
    assert isinstance(hosts, Sequence)
    assert ValueCipher(key).decrypt(hosts[1], "hosts:") == "b"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.5, "1.5"),
        (1.0, "1"),
        (1e21, "1000000000000000000000"),
        (1e-7, "0.0000001"),
        (-0.25, "-0.25"),
        (123456789.125, "123456789.125"),
    ],
)
def test_floats_are_formatted_as_go_does(value: float, text: str) -> None:
    assert format_float(value) == text


def test_metadata_round_trip_in_sops_order() -> None:
    raw = {
        "kms": [{"arn": "arn:aws:kms:x", "enc": "E", "created_at": "2020-01-01T00:00:00Z"}],
        "lastmodified": "2024-05-01T10:00:00Z",
        "mac": "ENC[...]",
        "pgp": [{"created_at": "2024-05-01T10:00:00Z", "enc": "-----BEGIN", "fp": "ABC"}],
        "unencrypted_suffix": "_unencrypted",
        "version": "3.9.0",
    }
    assert list(parse_metadata(raw).to_raw().items()) == list(raw.items())


def test_metadata_from_flat_strings() -> None:
    raw = {
        "shamir_threshold": "2",
        "key_groups": [{"pgp": [{"fp": "A", "enc": "x"}]}, {"pgp": [{"fp": "B", "enc": "y"}]}],
        "lastmodified": "2024-05-01T10:00:00+02:00",
        "mac": "m",
        "mac_only_encrypted": "true",
        "version": "3.11.0",
    }
    metadata = parse_metadata(raw)
    assert metadata.shamir_threshold == 2
    assert metadata.mac_only_encrypted
    assert metadata.mac_aad() == "2024-05-01T10:00:00+02:00"
    assert (
        parse_metadata({**raw, "lastmodified": "2024-05-01T08:00:00.123+00:00"}).mac_aad()
        == "2024-05-01T08:00:00Z"
    )


def test_reprs_hide_values() -> None:
    doc = _document()
    assert "hunter2" not in repr(doc)
    assert "hunter2" not in repr(Sequence(["hunter2"]))
    assert "hunter2" not in repr(Comment("hunter2"))


def test_the_cipher_is_cryptographys_public_aesgcm() -> None:
    # cipher.py takes AESGCM from where cryptography defines it (a faster start-up);
    # it must stay the class the public module exports.
    from cryptography.hazmat.primitives.ciphers import aead

    from secure_up.sops import cipher

    assert cipher.AESGCM is aead.AESGCM


_RULES = [
    EncryptionRule("unencrypted_suffix", "_unencrypted"),
    EncryptionRule("encrypted_suffix", "_enc"),
    EncryptionRule("unencrypted_regex", "^pub"),
    EncryptionRule("encrypted_regex", "pass|key$"),
    EncryptionRule("unencrypted_comment_regex", "plain"),
    EncryptionRule("encrypted_comment_regex", "secret"),
]
_KEY_TEXT = st.lists(
    st.sampled_from(["pub", "pass", "key", "_enc", "_unencrypted", "x", "_"]), max_size=3
).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(_RULES),
    st.lists(_KEY_TEXT, max_size=3),
    _KEY_TEXT,
    st.lists(st.lists(st.sampled_from(["plain", "secret", "other"]), max_size=2), max_size=3),
)
def test_a_rule_decided_once_per_map_decides_each_key_as_it_would_alone(
    rule: EncryptionRule, path: list[str], key: str, comments: list[list[str]]
) -> None:
    # The walker asks once per map (for_keys_under) instead of once per key: the answer
    # for every key must be should_encrypt's; comment rules are left to should_encrypt.
    decide = rule.for_keys_under(path, comments)
    if decide is None:
        assert rule.kind.endswith("comment_regex")
    else:
        assert decide(key) == rule.should_encrypt([*path, key], comments, False)


# -- A flat map opened at once (ValueCipher.open_many) against the walk, key by key ------

_FLAT_KEYS = st.sampled_from(["A", "B", "pass", "port", "x_unencrypted", "nested", "empty"])
_FLAT_VALUES = st.one_of(
    st.text(max_size=6), st.integers(), st.booleans(), st.floats(allow_nan=False)
)
_TAMPERING = st.sampled_from(
    [
        *("none", "none", "swap", "moved", "garbage", "base64", "comment", "int", "unknown"),
        *("tag", "iv", "clear", "empty", "left in clear"),
    ]
)


def _flat_tree(data: st.DataObject) -> Branch:
    entries = data.draw(st.dictionaries(_FLAT_KEYS, _FLAT_VALUES, min_size=1, max_size=6))
    tree = from_plain(entries)
    assert isinstance(tree, Branch)
    if data.draw(st.booleans()):
        tree.insert(data.draw(st.integers(0, len(tree))), Comment(" a comment"))
    if "nested" in entries and data.draw(st.booleans()):
        tree.set("nested", from_plain({"inner": "value"}))
    return tree


def _tamper(tree: Branch, how: str, where: int, cipher: ValueCipher) -> None:
    if how == "none":
        return
    if how == "left in clear":  # a key the rule leaves in clear holding an ENC[...] text
        if tree.index_of("x_unencrypted") >= 0:
            tree.set("x_unencrypted", cipher.encrypt("x", "x_unencrypted:"))
        return
    items = [index for index, entry in enumerate(tree) if not isinstance(entry, Comment)]
    index = items[where % len(items)]
    key, value = tree[index]  # type: ignore[misc]
    if not isinstance(value, str) or not looks_encrypted(value):
        return
    other = tree[items[(where + 1) % len(items)]]
    replacements = {
        "swap": other[1] if isinstance(other, tuple) and isinstance(other[1], str) else value,
        "garbage": "ENC[AES256_GCM,data:abc",
        "base64": value.replace("data:", "data:!", 1),
        "comment": value.rsplit("type:", 1)[0] + "type:comment]",
        "int": value.rsplit("type:", 1)[0] + "type:int]",
        "unknown": value.rsplit("type:", 1)[0] + "type:nope]",
        "tag": value.replace("tag:", "tag:AAAA", 1),
        "iv": re.sub(r"iv:[^,]*", "iv:AAAAAA==", value),
        "clear": "in clear text",
        "empty": "",
        "moved": cipher.encrypt("x", "elsewhere:"),
    }
    tree[index] = (key, replacements[how])


def _decrypt(tree: Branch, key: bytes, metadata: Metadata) -> tuple[object, ...]:
    """What a decryption gives: the tree, the IVs kept and the MAC computed; or the error."""
    from secure_up.sops import engine

    cipher = ValueCipher(key)
    digests: list[str] = []

    def record(metadata: Metadata, cipher: ValueCipher, computed: str) -> None:
        digests.append(computed)

    verify = engine._verify_mac
    engine._verify_mac = record
    try:
        plain = decrypt_documents([tree], metadata, cipher)
    except (FormatError, IntegrityError) as error:
        return type(error), str(error)
    finally:
        engine._verify_mac = verify
    return to_plain(plain[0]), sorted(map(repr, (cipher._ivs or {}).items())), digests


@settings(max_examples=500, deadline=None)
@given(st.data(), _TAMPERING, st.integers(0, 10))
def test_a_flat_map_opened_at_once_comes_out_as_opened_key_by_key(
    data: st.DataObject, how: str, where: int
) -> None:
    from secure_up.sops import engine

    key = os.urandom(32)
    metadata = _metadata()
    (encrypted,) = encrypt_documents([_flat_tree(data)], metadata, ValueCipher(key))
    _tamper(encrypted, how, where, ValueCipher(key))
    at_once = _decrypt(encrypted, key, metadata)
    opener = engine._flat_map_opener
    engine._flat_map_opener = lambda cipher, hashed: lambda branch, prefix, encrypts: None
    try:
        key_by_key = _decrypt(encrypted, key, metadata)
    finally:
        engine._flat_map_opener = opener
    assert at_once == key_by_key


def test_a_flat_map_is_opened_at_once_and_hashed_as_key_by_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = os.urandom(32)
    metadata = _metadata()
    tree = from_plain({f"KEY_{number}": f"value {number}" for number in range(5000)})
    assert isinstance(tree, Branch)
    tree.set("port", 5432)
    encrypted = encrypt_documents([tree], metadata, ValueCipher(key))  # sets the MAC
    calls: list[int] = []
    open_many = ValueCipher.open_many

    def counted(self: ValueCipher, texts: list[object], aads: list[str]) -> object:
        calls.append(len(texts))
        return open_many(self, texts, aads)

    monkeypatch.setattr(ValueCipher, "open_many", counted)
    plain = decrypt_documents(encrypted, metadata, ValueCipher(key))  # the MAC verifies
    assert calls == [4096, 905]  # bounded lists on the way
    assert to_plain(plain[0]) == to_plain(tree)
