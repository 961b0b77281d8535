"""Key paths and the edits ``set`` and ``unset`` make to a decrypted document tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from secure_up.errors import SecureUpError, UsageError
from secure_up.sops import tree
from secure_up.sops.stores import FileType
from secure_up.sopsfile.edits import KeyPath, assign, parse_key, remove

FILE = Path("secrets/app.yaml")


def document() -> tree.Branch:
    """``# top``, ``db: {user, password}``, ``hosts: [# c, a, b]``, ``port``."""
    hosts = tree.Sequence([tree.Comment(" c"), "a", "b"])
    db = tree.Branch([("user", "admin"), ("password", "old")])
    return tree.Branch([tree.Comment(" top"), ("db", db), ("hosts", hosts), ("port", 5432)])


@pytest.mark.parametrize(
    ("key", "file_type", "expected"),
    [
        ("DBPASS", "yaml", ["DBPASS"]),
        ('["db"]["password"]', "yaml", ["db", "password"]),
        ('["hosts"][0]', "json", ["hosts", 0]),
        ("DBPASS", "ini", ["DEFAULT", "DBPASS"]),
        ('["mysql"]["pass"]', "ini", ["mysql", "pass"]),
        ("DB_PASS", "dotenv", ["DB_PASS"]),
        ("_DB9", "binary", ["_DB9"]),
        ("sops", "dotenv", ["sops"]),  # only sops_* keys are metadata there
    ],
)
def test_a_key_is_read_as_the_path_its_format_holds(
    key: str, file_type: FileType, expected: KeyPath
) -> None:
    assert parse_key(key, file_type) == expected


@pytest.mark.parametrize(
    ("key", "file_type", "message"),
    [
        ("", "yaml", "empty"),
        ('["db"', "yaml", "cannot read the key path"),
        ("sops", "yaml", "metadata"),
        ('["sops"]["x"]', "json", "metadata"),
        ("9LIVES", "binary", "not a shell variable name"),
        ('["a"]["b"]', "binary", "not a shell variable name"),
        ("sops_mac", "dotenv", "cannot be a dotenv key"),
        ("A=B", "dotenv", "cannot be a dotenv key"),
        ('["a"]["b"]', "dotenv", "cannot be a dotenv key"),
        ('["a"]["b"]["c"]', "ini", "not an INI key"),
        ('["a"][0]', "ini", "not an INI key"),
    ],
)
def test_a_key_its_format_cannot_hold_is_a_usage_error(
    key: str, file_type: FileType, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        parse_key(key, file_type)


def test_assign_replaces_in_place_and_keeps_comments_and_order() -> None:
    doc = document()
    assign(doc, ["db", "password"], "new")
    assert doc[0] == tree.Comment(" top")
    assert doc.keys() == ["db", "hosts", "port"]
    db = doc.get("db")
    assert isinstance(db, tree.Branch)
    assert db == [("user", "admin"), ("password", "new")]


def test_assign_appends_a_new_key_and_creates_the_mappings_on_the_way() -> None:
    doc = document()
    assign(doc, ["cache", "redis", "password"], "pw")
    assign(doc, ["TOKEN"], "t")
    assert doc.keys() == ["db", "hosts", "port", "cache", "TOKEN"]
    assert tree.to_plain(doc.get("cache")) == {"redis": {"password": "pw"}}


def test_assign_to_a_list_element_counts_elements_not_comments() -> None:
    doc = document()
    assign(doc, ["hosts", 0], "x")
    assign(doc, ["hosts", -1], "y")
    assert doc.get("hosts") == [tree.Comment(" c"), "x", "y"]


@pytest.mark.parametrize(
    ("key_path", "message"),
    [
        (["hosts", 2], r'^\["hosts"\]\[2\]: the list has no element 2$'),
        (["port", "x"], r'^\["port"\]\["x"\] does not exist or does not hold a mapping$'),
        (["db", 0], r'^\["db"\]\[0\] does not exist or does not hold a list$'),
        (["db", "user", "x", "y"], r'^\["db"\]\["user"\]\["x"\] does not exist or does not'),
    ],
)
def test_assign_where_no_value_can_go_names_the_path(key_path: KeyPath, message: str) -> None:
    doc = document()
    with pytest.raises(UsageError, match=message):
        assign(doc, key_path, "new")
    assert tree.to_plain(doc) == tree.to_plain(document())


def test_remove_a_key_and_a_list_element() -> None:
    doc = document()
    remove(doc, ["db", "password"], '["db"]["password"]', FILE)
    remove(doc, ["hosts", 0], '["hosts"][0]', FILE)
    assert tree.to_plain(doc) == {"db": {"user": "admin"}, "hosts": ["b"], "port": 5432}
    assert doc[0] == tree.Comment(" top")


@pytest.mark.parametrize("key_path", [["DBPASS"], ["db", "pass"], ["hosts", 5], ["nope", "x"]])
def test_removing_what_is_not_there_names_the_key_and_changes_nothing(key_path: KeyPath) -> None:
    doc = document()
    with pytest.raises(SecureUpError, match=r"secrets/app.yaml has no KEY; nothing was changed"):
        remove(doc, key_path, "KEY", FILE)
    assert tree.to_plain(doc) == tree.to_plain(document())


def test_errors_never_show_a_value() -> None:
    doc = document()
    assign(doc, ["db", "password"], "0ld-s3cret")
    with pytest.raises(UsageError) as caught:
        assign(doc, ["db", "password", "deeper"], "n3w-s3cret")
    assert "s3cret" not in caught.value.diagnostics()
