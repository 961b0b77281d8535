"""The JSON, dotenv, INI and binary stores, pure: bytes in, trees out, and back.

Expected layouts here were checked against the real sops 3.11 binary (the
interop tests in tests/interop/test_flat_stores_layout.py check them live).
"""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secure_up.errors import FormatError, NotEncryptedError, SecureUpError, UsageError
from secure_up.sops.stores import store_for
from secure_up.sops.stores.binary_store import STORE as BINARY
from secure_up.sops.stores.dotenv_store import STORE as DOTENV
from secure_up.sops.stores.flat import flatten_metadata, scalar_text, unflatten_metadata
from secure_up.sops.stores.ini_store import STORE as INI
from secure_up.sops.stores.json_store import STORE as JSON
from secure_up.sops.tree import Branch, Comment, Sequence, from_plain, to_bytes, to_plain

SECRET = "hunter2-SECRET"
ENCRYPT_FIX = "encrypt it first: secure-up encrypt FILE"

METADATA: dict[str, Any] = {
    "lastmodified": "2024-05-01T10:00:00Z",
    "mac": "ENC[AES256_GCM,data:abc=,iv:def=,tag:ghi=,type:str]",
    "pgp": [
        {
            "created_at": "2024-05-01T10:00:00Z",
            "enc": "-----BEGIN PGP MESSAGE-----\n\nhQGMA+x=\n-----END PGP MESSAGE-----",
            "fp": "ABCDEF0123456789",
        }
    ],
    "unencrypted_suffix": "_unencrypted",
    "version": "3.11.0",
}


def branch_of(data: dict[str, Any]) -> Branch:
    tree = from_plain(data)
    assert isinstance(tree, Branch)
    return tree


def assert_hides_secret(error: SecureUpError) -> None:
    assert SECRET not in str(error)
    assert SECRET not in error.diagnostics()
    assert error.__cause__ is None
    assert error.__suppress_context__ or error.__context__ is None


# --- flat: metadata flattening and scalar text ------------------------------------------


def test_flatten_writes_sorted_sops_paths() -> None:
    flat = flatten_metadata(METADATA)
    assert [key for key, _ in flat] == [
        "lastmodified",
        "mac",
        "pgp__list_0__map_created_at",
        "pgp__list_0__map_enc",
        "pgp__list_0__map_fp",
        "unencrypted_suffix",
        "version",
    ]
    assert dict(flat)["pgp__list_0__map_enc"] == METADATA["pgp"][0]["enc"]


def test_flatten_skips_nulls_and_empties_and_writes_scalars_as_text() -> None:
    flat = flatten_metadata(
        {
            "shamir_threshold": 2,
            "kms": None,
            "age": [],
            "key_groups": [{"pgp": [{"fp": "A"}], "hc_vault": None, "age": None}],
            "mac_only_encrypted": True,
        }
    )
    assert flat == [
        ("key_groups__list_0__map_pgp__list_0__map_fp", "A"),
        ("mac_only_encrypted", "true"),
        ("shamir_threshold", "2"),
    ]


def test_unflatten_rebuilds_nested_maps_and_lists_with_string_values() -> None:
    assert unflatten_metadata(flatten_metadata(METADATA)) == METADATA
    assert unflatten_metadata(
        [
            ("key_groups__list_1__map_pgp__list_0__map_fp", "B"),
            ("shamir_threshold", "2"),
            ("key_groups__list_0__map_pgp__list_0__map_fp", "A"),
        ]
    ) == {
        "key_groups": [{"pgp": [{"fp": "A"}]}, {"pgp": [{"fp": "B"}]}],
        "shamir_threshold": "2",
    }


def test_flatten_sorts_list_indexes_as_text_like_sops_3_11() -> None:
    keys = [key for key, _ in flatten_metadata({"pgp": [{"fp": str(i)} for i in range(11)]})]
    assert keys[:3] == ["pgp__list_0__map_fp", "pgp__list_10__map_fp", "pgp__list_1__map_fp"]
    assert unflatten_metadata(flatten_metadata({"pgp": list("abcdefghijkl")})) == {
        "pgp": list("abcdefghijkl")
    }


@pytest.mark.parametrize(
    ("items", "cause"),
    [
        ([("pgp__list_1__map_fp", "x")], "gap"),
        ([("pgp", "x"), ("pgp__list_0", "y")], "contradicts"),
        ([("pgp__list_0", "y"), ("pgp__map_a", "x")], "contradicts"),
        ([("mac", "x"), ("mac", "y")], "twice"),
        ([("pgp__list_x", "y")], "list index"),
    ],
)
def test_unflatten_refuses_contradicting_keys(items: list[tuple[str, str]], cause: str) -> None:
    with pytest.raises(FormatError, match=cause):
        unflatten_metadata(items)


_names = st.text(st.characters(codec="ascii", exclude_characters="_"), min_size=1, max_size=6)
_metadata_like: st.SearchStrategy[Any] = st.recursive(
    st.text(max_size=8),
    lambda children: (
        st.lists(children, min_size=1, max_size=3)
        | st.dictionaries(_names, children, min_size=1, max_size=3)
    ),
    max_leaves=12,
)


@given(st.dictionaries(_names, _metadata_like, max_size=5))
def test_unflatten_inverts_flatten(metadata: dict[str, Any]) -> None:
    assert unflatten_metadata(flatten_metadata(metadata)) == metadata


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.0, "3.0"),
        (1.5, "1.5"),
        (-2.25, "-2.25"),
        (1e21, "1E+21"),
        (1e6, "1E+06"),
        (123456.0, "123456.0"),
        (1234567.0, "1.234567E+06"),
        (1.5e-7, "1.5E-07"),
        (0.0001, "0.0001"),
        (0.00001, "1E-05"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (math.inf, "+Inf"),
        (math.nan, "NaN"),
        (True, "true"),
        (False, "false"),
        (12, "12"),
        (None, "<nil>"),
        ("text", "text"),
    ],
)
def test_scalar_text_matches_sops_val_to_string(value: object, text: str) -> None:
    assert scalar_text(value) == text


# --- dotenv --------------------------------------------------------------------------------


def test_dotenv_reads_lines_as_sops_does() -> None:
    data = b'#top comment\nA=1\n\nB=x=y\nC=a\\nb\nD="quoted"\nexport E = spaced \nF=\n# c2'
    (tree,) = DOTENV.load_plain(data)
    assert list(tree) == [
        Comment("top comment"),
        ("A", "1"),
        ("B", "x=y"),
        ("C", "a\nb"),
        ("D", '"quoted"'),
        ("export E ", " spaced "),
        ("F", ""),
        Comment(" c2"),
    ]


def test_dotenv_keeps_carriage_returns_like_sops() -> None:
    (tree,) = DOTENV.load_plain(b"A=1\r\nB=2\r\n")
    assert list(tree) == [("A", "1\r"), ("B", "2\r")]
    assert DOTENV.dump_plain([tree]) == b"A=1\r\nB=2\r\n"


def test_dotenv_line_without_equals_names_the_line_number_not_the_text() -> None:
    with pytest.raises(FormatError, match="line 3 ") as caught:
        DOTENV.load_plain(f"A=1\n\n{SECRET}\n".encode())
    assert_hides_secret(caught.value)
    with pytest.raises(FormatError, match="line 2 "):
        DOTENV.load_plain(b"A=1\r\n\r\nB=2\r\n")  # a CRLF blank line is not empty: sops fails too


def test_dotenv_writes_newlines_escaped_and_ends_every_line() -> None:
    tree = Branch([Comment(" note"), ("A", "line1\nline2"), ("B", "lit\\n"), ("C", "")])
    assert DOTENV.dump_plain([tree]) == b"# note\nA=line1\\nline2\nB=lit\\n\nC=\n"
    assert DOTENV.dump_plain([Branch()]) == b""


def test_dotenv_writes_converted_scalars_as_sops() -> None:
    tree = branch_of({"f": 1.5, "i": 3, "t": True, "n": None, "g": 3.0})
    assert DOTENV.dump_plain([tree]) == b"f=1.5\ni=3\nt=true\nn=<nil>\ng=3.0\n"


def test_dotenv_refuses_nested_values_naming_the_key() -> None:
    with pytest.raises(FormatError, match="key nested"):
        DOTENV.dump_plain([Branch([("nested", Branch([("a", SECRET)]))])])


def test_dotenv_preserves_arbitrary_bytes() -> None:
    data = b"A=\x00\xff\xfe caf\xc3\xa9\n"
    assert DOTENV.dump_plain(DOTENV.load_plain(data)) == data


def test_dotenv_encrypted_round_trip_splits_metadata() -> None:
    (tree,) = DOTENV.load_plain(b"#c\nA=ENC[x]\n")
    data = DOTENV.dump_encrypted([tree], METADATA)
    assert data.decode().splitlines()[2:5] == [
        "sops_lastmodified=2024-05-01T10:00:00Z",
        "sops_mac=ENC[AES256_GCM,data:abc=,iv:def=,tag:ghi=,type:str]",
        "sops_pgp__list_0__map_created_at=2024-05-01T10:00:00Z",
    ]
    assert "sops_pgp__list_0__map_enc=-----BEGIN PGP MESSAGE-----\\n\\nhQGMA+x=\\n" in data.decode()
    documents, metadata = DOTENV.load_encrypted(data)
    assert documents == [tree]
    assert metadata == METADATA
    assert DOTENV.dump_encrypted(documents, metadata) == data


def test_dotenv_without_metadata_is_not_encrypted() -> None:
    with pytest.raises(NotEncryptedError, match="not encrypted") as caught:
        DOTENV.load_encrypted(b"A=1\n")
    assert caught.value.fix == ENCRYPT_FIX


def test_dotenv_refuses_data_keys_with_the_metadata_prefix() -> None:
    with pytest.raises(FormatError, match="sops_x"):
        DOTENV.dump_encrypted([Branch([("sops_x", "1")])], METADATA)


def test_dotenv_dump_value_prints_strings_raw() -> None:
    assert DOTENV.dump_value("a\nb") == b"a\nb"
    assert DOTENV.dump_value(Branch([("A", "1")])) == b"A=1\n"
    with pytest.raises(UsageError):
        DOTENV.dump_value(3)


_dotenv_keys = st.text(min_size=0, max_size=10).filter(
    lambda key: "=" not in key and "\n" not in key and not key.startswith("#")
)
_dotenv_values = st.text(max_size=20).filter(lambda value: "\\n" not in value)
_dotenv_entries = st.lists(
    st.tuples(_dotenv_keys, _dotenv_values)
    | st.builds(Comment, st.text(max_size=10).filter(lambda text: "\n" not in text)),
    max_size=8,
)


@given(_dotenv_entries)
def test_dotenv_tree_round_trips(entries: list[tuple[str, str] | Comment]) -> None:
    tree = Branch(entries)
    data = DOTENV.dump_plain([tree])
    assert DOTENV.load_plain(data) == [tree]


# Lines a dotenv reader meets, weighted towards what sends the whole-file reader to the
# line-by-line one: comments, escapes, no "=", sops_ lines anywhere, CR, empty lines.
_dotenv_pieces = st.sampled_from(
    ["A", "B", "sops_", "sops_", "=", "#", "\\", "n", "\\n", "\r", " ", "é"]
)
_dotenv_text = st.lists(_dotenv_pieces, max_size=5).map("".join)
_dotenv_variable = st.tuples(_dotenv_text, _dotenv_text).map("=".join)  # most lines are
_dotenv_lines = st.lists(st.one_of(_dotenv_variable, _dotenv_variable, _dotenv_text), max_size=10)


@settings(max_examples=1000)
@given(_dotenv_lines, st.booleans())
def test_dotenv_whole_file_reader_reads_every_file_as_the_line_by_line_one(
    lines: list[str], encrypted: bool
) -> None:
    from secure_up.sops.stores.dotenv_store import _load_line_by_line, _load_whole

    text = "\n".join(lines)
    whole_metadata: list[tuple[str, str]] | None = [] if encrypted else None
    line_metadata: list[tuple[str, str]] | None = [] if encrypted else None
    whole = _load_whole(text, whole_metadata)
    if whole is None:  # not a file it reads: it must have left nothing behind
        assert whole_metadata in (None, [])
        return
    assert whole == _load_line_by_line(text, line_metadata)
    assert whole_metadata == line_metadata


def test_dotenv_file_as_sops_writes_it_is_read_whole() -> None:
    from secure_up.sops.stores.dotenv_store import _load_whole

    (tree,) = DOTENV.load_plain(b"A=ENC[x]\nB=ENC[y]\n")
    text = DOTENV.dump_encrypted([tree], METADATA).decode()
    metadata: list[tuple[str, str]] = []
    assert _load_whole(text, metadata) == tree
    assert unflatten_metadata(metadata) == METADATA


def test_dotenv_ten_thousand_keys_load_and_dump_in_milliseconds() -> None:
    data = "".join(f"KEY_{i}=value number {i} with some length\n" for i in range(10_000)).encode()
    best_load = best_dump = math.inf
    for _ in range(5):
        start = time.perf_counter()
        documents = DOTENV.load_plain(data)
        middle = time.perf_counter()
        written = DOTENV.dump_plain(documents)
        best_load = min(best_load, middle - start)
        best_dump = min(best_dump, time.perf_counter() - middle)
    assert written == data
    # A few ms on a laptop; the bound leaves room for a busy 2-core CI machine.
    assert best_load < 0.05
    assert best_dump < 0.05


# --- JSON ----------------------------------------------------------------------------------


def test_json_numbers_follow_sops_3_13() -> None:
    (tree,) = JSON.load_plain(
        b'{"i": 3, "neg": -7, "one": 1.0, "exp": 1e3, "f": 1.5, '
        b'"max": 9223372036854775807, "big": 9223372036854775808, "huge": 1' + b"0" * 30 + b"}"
    )
    values = dict(tree.items_only())
    assert values["i"] == 3
    assert type(values["i"]) is int
    assert values["neg"] == -7
    assert type(values["one"]) is float
    assert values["exp"] == 1000.0
    assert type(values["exp"]) is float
    assert values["max"] == 2**63 - 1
    assert type(values["max"]) is int
    assert values["big"] == 2.0**63
    assert type(values["big"]) is float
    assert type(values["huge"]) is float


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1.0, "1"),
        (-0.0, "-0"),
        (0.1, "0.1"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1.5e300, "1.5e+300"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (1.5e-10, "1.5e-10"),
        (5e-324, "5e-324"),
        (2.0**63, "9223372036854776000"),
        (123456789.125, "123456789.125"),
    ],
)
def test_json_writes_floats_as_go(number: float, text: str) -> None:
    assert JSON.dump_value(number) == text.encode()


def test_json_writes_strings_escaped_as_go() -> None:
    tree = Branch([("s", '<>&\u2028\u2029é中😀\x7f\x00\x1f\b\f\t\n"\\/'), ("b", from_bytesish())])
    assert (
        JSON.dump_plain([tree])
        == (
            "{\n"
            '\t"s": "\\u003c\\u003e\\u0026\\u2028\\u2029'
            'é中😀\x7f\\u0000\\u001f\\b\\f\\t\\n\\"\\\\/",\n'
            '\t"b": "ok\\ufffd\\ufffd"\n'
            "}\n"
        ).encode()
    )


def from_bytesish() -> str:
    return "ok\udcff\udcfe"  # bytes 0xFF 0xFE, as a binary file's value holds them


def test_json_layout_is_tab_indented_with_compact_empties() -> None:
    tree = branch_of({"o": {"x": [1, {"y": None}], "e": {}, "l": []}, "t": True})
    assert JSON.dump_plain([tree]) == (
        b'{\n\t"o": {\n\t\t"x": [\n\t\t\t1,\n\t\t\t{\n\t\t\t\t"y": null\n\t\t\t}\n\t\t],\n'
        b'\t\t"e": {},\n\t\t"l": []\n\t},\n\t"t": true\n}\n'
    )
    assert JSON.dump_plain([Branch()]) == b"{}\n"


def test_json_keeps_duplicate_keys_and_order() -> None:
    (tree,) = JSON.load_plain(b'{"b": 1, "a": 2, "b": 3}')
    assert list(tree) == [("b", 1), ("a", 2), ("b", 3)]


def test_json_reads_nested_values_as_tree_types() -> None:
    (tree,) = JSON.load_plain(b'{"l": [[1, [2]], {"k": [true]}], "n": null}')
    outer = tree.get("l")
    assert isinstance(outer, Sequence)
    assert isinstance(outer[0], Sequence)
    assert isinstance(outer[0][1], Sequence)
    inner = outer[1]
    assert isinstance(inner, Branch)
    assert isinstance(inner.get("k"), Sequence)
    assert to_plain(tree) == {"l": [[1, [2]], {"k": [True]}], "n": None}


def test_json_replaces_bad_utf8_and_unpaired_surrogates_as_go() -> None:
    (tree,) = JSON.load_plain(b'{"a": "x\xe2\x82y", "b": "\\ud800z", "c": "\\ud83d\\ude00"}')
    assert to_plain(tree) == {"a": "x\ufffd\ufffdy", "b": "\ufffdz", "c": "😀"}


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b'{"a": "' + SECRET.encode() + b'",\n "b" "x"}', "line 2, column 6"),
        (b'{"a": ' + SECRET.encode() + b"}", "line 1, column 7"),
        (b"", "line 1, column 1"),
        (b'{"a": 1} trailing', "line 1, column 10"),
    ],
)
def test_json_syntax_errors_give_position_not_text(data: bytes, where: str) -> None:
    with pytest.raises(FormatError, match=where) as caught:
        JSON.load_plain(data)
    assert_hides_secret(caught.value)


@pytest.mark.parametrize(
    "data", [b"[1, 2]", b'"text"', b'{"a": NaN}', b'{"a": 1e400}', b"[" * 100_000]
)
def test_json_refuses_what_sops_refuses(data: bytes) -> None:
    with pytest.raises(FormatError):
        JSON.load_plain(data)


def test_json_encrypted_round_trip_puts_sops_last() -> None:
    tree = branch_of({"a": "ENC[x]", "n": 1})
    data = JSON.dump_encrypted([tree], METADATA)
    assert data.startswith(b'{\n\t"a": "ENC[x]",\n\t"n": 1,\n\t"sops": {\n\t\t"lastmodified": ')
    assert data.endswith(b'\t\t"version": "3.11.0"\n\t}\n}\n')
    documents, metadata = JSON.load_encrypted(data)
    assert documents == [tree]
    assert metadata == METADATA
    assert list(metadata) == list(METADATA)


@pytest.mark.parametrize("data", [b'{"a": 1}', b'{"a": 1, "sops": null}'])
def test_json_without_metadata_is_not_encrypted(data: bytes) -> None:
    with pytest.raises(NotEncryptedError, match="not encrypted") as caught:
        JSON.load_encrypted(data)
    assert caught.value.fix == ENCRYPT_FIX


@pytest.mark.parametrize("data", [b'{"sops": {}, "sops": {}}', b'{"sops": "x"}'])
def test_json_refuses_damaged_metadata(data: bytes) -> None:
    with pytest.raises(FormatError):
        JSON.load_encrypted(data)


def test_json_dump_value_matches_sops_extract() -> None:
    assert JSON.dump_value("a\nb") == b"a\nb"
    assert JSON.dump_value(3) == b"3"
    assert JSON.dump_value(None) == b"null"
    assert JSON.dump_value(Sequence([1, 2])) == b"[\n\t1,\n\t2\n]"
    assert JSON.dump_value(Branch([("a", 1)])) == b'{\n\t"a": 1\n}\n'


_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer())
    | st.text(st.characters(exclude_categories=["Cs"]), max_size=10)
)
_json_values: st.SearchStrategy[Any] = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=15,
)


@given(st.dictionaries(st.text(max_size=5), _json_values, max_size=5))
def test_json_tree_round_trips(data: dict[str, Any]) -> None:
    tree = branch_of(data)
    written = JSON.dump_plain([tree])
    assert to_plain(JSON.load_plain(written)[0]) == data
    assert JSON.dump_plain(JSON.load_plain(written)) == written


# --- INI -----------------------------------------------------------------------------------

INI_SOURCE = b"""; leading comment
top = 1
# comment two
# comment three
[sec one]
key=value
hash = `a#b`
spaces = "  padded  "
eq = a=b
colon : c
multi = \"\"\"line1
line2\"\"\"
k2 = v2 ; inline
empty =
; section comment
[other]
x = 'single'
"""

INI_NORMALIZED = b"""; leading comment
top = 1

; comment two
# comment three
[sec one]
key    = value
hash   = `a#b`
spaces = "  padded  "
eq     = a=b
colon  = c
multi  = \"\"\"line1
line2\"\"\"
; inline
k2     = v2
empty  =\x20

; section comment
[other]
x = single
"""


def test_ini_tree_places_comments_where_sops_does() -> None:
    (tree,) = INI.load_plain(INI_SOURCE)
    assert list(tree) == [
        ("DEFAULT", Branch([("top", "1"), Comment("leading comment")])),
        (
            "sec one",
            Branch(
                [
                    Comment("comment two\n# comment three"),
                    ("key", "value"),
                    ("hash", "a#b"),
                    ("spaces", "  padded  "),
                    ("eq", "a=b"),
                    ("colon", "c"),
                    ("multi", "line1\nline2"),
                    ("k2", "v2"),
                    Comment("inline"),
                    ("empty", ""),
                ]
            ),
        ),
        ("other", Branch([Comment("section comment"), ("x", "single")])),
    ]


def test_ini_writes_as_go_ini() -> None:
    assert INI.dump_plain(INI.load_plain(INI_SOURCE)) == INI_NORMALIZED
    assert INI.dump_plain(INI.load_plain(INI_NORMALIZED)) == INI_NORMALIZED


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (b"a = 1", {"DEFAULT": {"a": "1"}}),
        (b"\xef\xbb\xbfa = 1\n", {"DEFAULT": {"a": "1"}}),
        (b"[s]\r\nc = 3\r\n", {"DEFAULT": {}, "s": {"c": "3"}}),
        (b"[s]\nk = a\\\n  b\\\n c\nk2 = d\n", {"DEFAULT": {}, "s": {"k": "abc", "k2": "d"}}),
        (b"[s]\nk = v\nk = w\n", {"DEFAULT": {}, "s": {"k": "w"}}),
        (b'[s]\nk = "a"b"\nk2 = \'x\n', {"DEFAULT": {}, "s": {"k": '"a"b"', "k2": "'x"}}),
        (b'[ sp ]\n`q=k` = 1\n"dq" = 2\n', {"DEFAULT": {}, " sp ": {"q=k": "1", "dq": "2"}}),
        (b"[s]\n- = a\n- = b\n", {"DEFAULT": {}, "s": {"#1": "a", "#2": "b"}}),
        (b"[s]\nk = ;only comment\n", {"DEFAULT": {}, "s": {"k": ""}}),
        (b"[s]\nk = `x` ; c\n", {"DEFAULT": {}, "s": {"k": "x"}}),
    ],
)
def test_ini_reads_values_as_go_ini(source: bytes, expected: dict[str, Any]) -> None:
    assert to_plain(INI.load_plain(source)[0]) == expected


def test_ini_keeps_duplicate_sections_apart() -> None:
    (tree,) = INI.load_plain(b"[s]\nk = v\n[s]\nk = w\n")
    assert tree.keys() == ["DEFAULT", "s", "s"]


def test_ini_writes_quotes_and_alignment_as_go_ini() -> None:
    tree = branch_of(
        {
            "s": {
                "plain": "v",
                "hash": "a#b",
                "semi": "a;b",
                "pad": " x",
                "tick": "a`b",
                "nl": "a\nb",
                "a=b": "1",
                'q"': "2",
                "b`k": "3",
                "é": "4",
            }
        }
    )
    assert (
        INI.dump_plain([tree])
        == (
            "[s]\n"
            "plain     = v\n"
            "hash      = `a#b`\n"
            "semi      = `a;b`\n"
            'pad       = " x"\n'
            'tick      = """a`b"""\n'
            'nl        = """a\nb"""\n'
            "`a=b`     = 1\n"
            '`q"`      = 2\n'
            '"""b`k""" = 3\n'
            "é        = 4\n"  # go-ini aligns by bytes: é counts 2
        ).encode()
    )


def test_ini_writes_default_section_without_header_only_when_first() -> None:
    first = branch_of({"DEFAULT": {"a": "1"}, "s": {"b": "2"}})
    assert INI.dump_plain([first]) == b"a = 1\n\n[s]\nb = 2\n"
    empty = branch_of({"DEFAULT": {}, "s": {"b": "2"}})
    assert INI.dump_plain([empty]) == b"[s]\nb = 2\n"
    later = branch_of({"s": {"b": "2"}, "DEFAULT": {"a": "1"}})
    assert INI.dump_plain([later]) == b"[s]\nb = 2\n\n[DEFAULT]\na = 1\n"


@pytest.mark.parametrize(
    ("source", "line"),
    [
        (f"[s]\n{SECRET}\n".encode(), 2),
        (f"[s\n{SECRET} = x\n".encode(), 1),
        (b"[]\nk = v\n", 1),
        (f"= {SECRET}\n".encode(), 1),
        (f'[s]\nk = """{SECRET}\nmore\n'.encode(), 2),
        (f'"{SECRET} = x\n'.encode(), 1),
    ],
)
def test_ini_errors_give_the_line_not_the_text(source: bytes, line: int) -> None:
    with pytest.raises(FormatError, match=f"line {line} ") as caught:
        INI.load_plain(source)
    assert_hides_secret(caught.value)


def test_ini_refuses_values_outside_sections() -> None:
    with pytest.raises(FormatError, match="top-level key a"):
        INI.dump_plain([Branch([("a", SECRET)])])
    with pytest.raises(FormatError, match="key k in section s"):
        INI.dump_plain([branch_of({"s": {"k": [1]}})])


def test_ini_encrypted_round_trip_uses_a_sops_section() -> None:
    (tree,) = INI.load_plain(b"[s]\nk = ENC[x]\n")
    data = INI.dump_encrypted([tree], METADATA)
    text = data.decode()
    assert text.startswith("[s]\nk = ENC[x]\n\n[sops]\nlastmodified                = 2024")
    assert "enc        = -----BEGIN PGP MESSAGE-----\\n\\nhQGMA+x=\\n-----END" in text
    documents, metadata = INI.load_encrypted(data)
    assert to_plain(documents[0]) == to_plain(tree)
    assert metadata == METADATA
    assert INI.dump_encrypted(documents, metadata) == data


def test_ini_metadata_problems() -> None:
    with pytest.raises(NotEncryptedError, match="not encrypted") as caught:
        INI.load_encrypted(b"[s]\nk = v\n")
    assert caught.value.fix == ENCRYPT_FIX
    with pytest.raises(FormatError, match="more than one"):
        INI.load_encrypted(b"[sops]\nversion = 1\n[sops]\nversion = 2\n")
    with pytest.raises(FormatError, match="reserves"):
        INI.dump_encrypted([branch_of({"sops": {"k": "v"}})], METADATA)


def test_ini_dump_value() -> None:
    assert INI.dump_value("a b") == b"a b"
    assert INI.dump_value(Branch([("s", Branch([("k", "v")]))])) == b"[s]\nk = v\n"
    with pytest.raises(FormatError):
        INI.dump_value(Branch([("k", "v")]))  # a section alone: sops fails the same way
    with pytest.raises(UsageError):
        INI.dump_value(3)


_ini_names = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=8,
).filter(lambda name: not set(name) & set("[]=:\"`#;'-\\") and name != "sops")
_ini_values = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12
).filter(lambda value: not set(value) & set("`\"'\\") and "\n" not in value)


@given(st.dictionaries(_ini_names, st.dictionaries(_ini_names, _ini_values, max_size=4)))
@settings(max_examples=200)
def test_ini_tree_round_trips(sections: dict[str, dict[str, str]]) -> None:
    tree = branch_of({"DEFAULT": sections.pop("DEFAULT", {}), **sections})
    assert isinstance(tree, Branch)
    written = INI.dump_plain([tree])
    assert to_plain(INI.load_plain(written)[0]) == to_plain(tree)
    assert INI.dump_plain(INI.load_plain(written)) == written


# --- binary --------------------------------------------------------------------------------


@given(st.binary(max_size=64))
def test_binary_round_trips_every_byte(data: bytes) -> None:
    documents = BINARY.load_plain(data)
    assert documents[0].keys() == ["data"]
    value = documents[0].get("data")
    assert isinstance(value, str)
    assert to_bytes(value) == data
    assert BINARY.dump_plain(documents) == data


def test_binary_encrypted_envelope_is_json() -> None:
    tree = Branch([("data", "ENC[x]")])
    data = BINARY.dump_encrypted([tree], METADATA)
    assert data.startswith(b'{\n\t"data": "ENC[x]",\n\t"sops": {\n')
    assert BINARY.load_encrypted(data) == ([tree], METADATA)


@pytest.mark.parametrize("data", [b"export DBPASS=MYPASS\n", b"", b"\x00\xff"])
def test_binary_plaintext_is_not_encrypted(data: bytes) -> None:
    with pytest.raises(NotEncryptedError, match="not encrypted") as caught:
        BINARY.load_encrypted(data)
    assert caught.value.fix == ENCRYPT_FIX


def test_binary_damaged_envelope_is_a_format_error() -> None:
    with pytest.raises(FormatError) as caught:
        BINARY.load_encrypted(b'{"data": "ENC[')
    assert not isinstance(caught.value, NotEncryptedError)


@pytest.mark.parametrize(
    "tree",
    [Branch([("other", "x")]), Branch([("data", 3)]), Branch([("data", Branch())])],
)
def test_binary_dump_plain_needs_a_data_string(tree: Branch) -> None:
    with pytest.raises(FormatError, match="data") as caught:
        BINARY.dump_plain([tree])
    assert "not a binary sops file" in (caught.value.fix or "")


def test_binary_dump_value() -> None:
    assert BINARY.dump_value("raw\x00") == b"raw\x00"
    with pytest.raises(UsageError):
        BINARY.dump_value(1)


# --- every store -----------------------------------------------------------------------------


@pytest.mark.parametrize("file_type", ["json", "dotenv", "ini", "binary"])
def test_each_module_exposes_its_store(file_type: str) -> None:
    store = store_for(file_type)  # type: ignore[arg-type]
    assert store is {"json": JSON, "dotenv": DOTENV, "ini": INI, "binary": BINARY}[file_type]
