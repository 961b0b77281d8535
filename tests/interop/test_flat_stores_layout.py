"""The JSON, dotenv, INI and binary stores against the real sops binary.

For every format: a file encrypted by ``sops encrypt`` is rewritten byte for
byte from our tree (E), ``sops decrypt``'s output is rewritten byte for byte
(P), our normalisation of the original equals sops' (so sops and we lay out a
plaintext the same way), our tree has the values and comment positions of
sops' (paths and MAC inputs agree), and ``--extract`` / ``--output-type``
print what our ``dump_value`` / other stores print.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from secure_up.sops.stores import Store
from secure_up.sops.stores.binary_store import STORE as BINARY
from secure_up.sops.stores.dotenv_store import STORE as DOTENV
from secure_up.sops.stores.ini_store import STORE as INI
from secure_up.sops.stores.json_store import STORE as JSON
from secure_up.sops.tree import Branch, Comment, Node, Sequence, to_plain
from tests.conftest import Sops

pytestmark = pytest.mark.sops

DOTENV_FILES = {
    "basic": b'#top comment\nA=1\nB=hello world\nC=a\\nb\n# c2\nD=x=y\nE="quoted"\nF=\nG=<&>\n',
    "crlf": b"A=1\r\nB=two words\r\n",
    "no-final-newline": b"A=1\nB=2",
    "bytes": b"A=caf\xc3\xa9 \xe4\xb8\xad\nB=tab\there\nC=\\\\n kept\n",
}

INI_FILES = {
    "rich": b"""; leading comment
top = 1
# comment two
# comment three
[sec one]
key=value
hash = `a#b`
semi = `a;b`
spaces = "  padded  "
eq = a=b
colon : c
multi = \"\"\"line1
line2\"\"\"
k2 = v2 ; inline
empty =
tick = \"\"\"has ` tick\"\"\"
; section comment
[other]
x = y
""",
    "values": b"""[s]
k = v # c1
k2 = v2;c2
q = 'quoted'
dq = "dq"
odd = "a"b"
cont = a\\
  b\\
 c
bt = `x` ; lost
tq = \"\"\"tri
ple\"\"\" ; kept
dup = first
dup = second
[s]
dup = other section
""",
    "keys": b"""[ spaced ] ; header comment
`q=k` = 1
"dq" = 2
  indented = yes
\tk\t=\tv\t
unicode = h\xc3\xa9llo
l\xc3\xa4nge = 1
""",
    "default-later": b"x = 0\n[DEFAULT]\nx = 1\n[s]\ny = 2\n",
    "crlf-bom": b"\xef\xbb\xbfa=1\r\n[s]\r\nc = 3\r\n",
    "no-final-newline": b"[a]\n[b]\nk = v",
}

JSON_SOURCE = rb"""{"nums": [0, 1, -1, 1.0, 1.5, -2.25, 1e3, 1E3, 1e21, 1e20, 1e-6, 1e-7, 1.5e-10,
 0.1, 0.3, 1.7976931348623157e308, 5e-324, 123456.0, 1234567.0, 0.0001, 0.00001,
 9007199254740993.5, 123456789012345678901234],
 "s": ["<>&", "\u2028\u2029", "\u00e9\u4e2d\ud83d\ude00", "\u007f\u0000\u001f", "\/", "\ud800x",
 "tab\there", "\"q\"\\", "\b\f"],
 "dup": 1, "dup": 2, "nested": {"a": [[1, [2]], {}], "b": {"c": null}, "e": []},
 "t": true, "f": false, "empty": ""}
"""

BINARY_SOURCE = b"export DBPASS=MYPASS\n\x00\xff\xfe binary \r\n tail"


def _encrypt(sops: Sops, tmp_path: Path, name: str, data: bytes) -> tuple[Path, bytes]:
    """Encrypt with sops from inside tmp_path, so no .sops.yaml above it (the repo's) applies."""
    plain = tmp_path / name
    plain.write_bytes(data)
    fingerprint = sops.keys.fingerprints[0]
    encrypted = sops.run("encrypt", "--pgp", fingerprint, name, cwd=tmp_path).stdout
    path = tmp_path / f"encrypted-{name}"
    path.write_bytes(encrypted)
    return path, encrypted


def _decrypt(sops: Sops, path: Path, *extra: str) -> bytes:
    return sops.run("decrypt", *extra, path.name, cwd=path.parent).stdout


def _shape(node: Node) -> object:
    """Keys and comment positions, without values: what the AAD paths depend on."""
    if isinstance(node, Branch):
        return [
            "#" if isinstance(entry, Comment) else (entry[0], _shape(entry[1])) for entry in node
        ]
    if isinstance(node, Sequence):
        return ["#" if isinstance(entry, Comment) else _shape(entry) for entry in node]
    return None


def _assert_layouts(store: Store, original: bytes, encrypted: bytes, decrypted: bytes) -> None:
    documents, metadata = store.load_encrypted(encrypted)
    assert store.dump_encrypted(documents, metadata) == encrypted
    assert store.dump_plain(store.load_plain(decrypted)) == decrypted
    assert store.dump_plain(store.load_plain(original)) == decrypted
    assert _shape(documents[0]) == _shape(store.load_plain(original)[0])


def _assert_same_values(sops: Sops, encrypted_path: Path, store: Store, original: bytes) -> None:
    as_json = _decrypt(sops, encrypted_path, "--output-type", "json")
    assert to_plain(JSON.load_plain(as_json)[0]) == to_plain(store.load_plain(original)[0])


@pytest.mark.parametrize("name", DOTENV_FILES)
def test_dotenv_layout_matches_sops(sops: Sops, tmp_path: Path, name: str) -> None:
    original = DOTENV_FILES[name]
    path, encrypted = _encrypt(sops, tmp_path, f"{name}.env", original)
    _assert_layouts(DOTENV, original, encrypted, _decrypt(sops, path))
    _assert_same_values(sops, path, DOTENV, original)


@pytest.mark.parametrize("name", INI_FILES)
def test_ini_layout_matches_sops(sops: Sops, tmp_path: Path, name: str) -> None:
    original = INI_FILES[name]
    path, encrypted = _encrypt(sops, tmp_path, f"{name}.ini", original)
    data_part, _, sops_part = encrypted.partition(b"[sops]\n")
    # sops 3.11 writes the [sops] keys in Go map order (random); we write them sorted.
    canonical = data_part + b"[sops]\n" + b"".join(sorted(sops_part.splitlines(keepends=True)))
    _assert_layouts(INI, original, canonical, _decrypt(sops, path))
    ours = INI.dump_encrypted(*INI.load_encrypted(encrypted))
    assert ours.partition(b"[sops]\n")[0] == data_part
    _assert_same_values(sops, path, INI, original)


def test_json_layout_matches_sops(sops: Sops, tmp_path: Path) -> None:
    path, encrypted = _encrypt(sops, tmp_path, "numbers.json", JSON_SOURCE)
    _assert_layouts(JSON, JSON_SOURCE, encrypted, _decrypt(sops, path))


def test_json_integers_beyond_2_53_stay_exact_where_sops_3_11_rounds(
    sops: Sops, tmp_path: Path
) -> None:
    source = b'{"id": 1234567890123456789, "small": 42}\n'
    path, encrypted = _encrypt(sops, tmp_path, "ids.json", source)
    assert _decrypt(sops, path) == b'{\n\t"id": 1234567890123456800,\n\t"small": 42\n}\n'
    assert JSON.dump_plain(JSON.load_plain(source)) == (
        b'{\n\t"id": 1234567890123456789,\n\t"small": 42\n}\n'
    )
    assert JSON.dump_encrypted(*JSON.load_encrypted(encrypted)) == encrypted


def test_binary_layout_matches_sops(sops: Sops, tmp_path: Path) -> None:
    path, encrypted = _encrypt(sops, tmp_path, "environment.secrets", BINARY_SOURCE)
    _assert_layouts(BINARY, BINARY_SOURCE, encrypted, _decrypt(sops, path))
    assert _decrypt(sops, path) == BINARY_SOURCE
    as_json = _decrypt(sops, path, "--output-type", "json")
    assert JSON.dump_plain(BINARY.load_plain(BINARY_SOURCE)) == as_json
    as_dotenv = _decrypt(sops, path, "--output-type", "dotenv")
    assert DOTENV.dump_plain(BINARY.load_plain(BINARY_SOURCE)) == as_dotenv


@pytest.mark.parametrize(
    ("source_name", "source", "source_store", "output_type", "output_store"),
    [
        ("basic.env", DOTENV_FILES["basic"], DOTENV, "json", JSON),
        ("rich.ini", INI_FILES["rich"], INI, "json", JSON),
        ("keys.ini", INI_FILES["keys"], INI, "dotenv", None),
        (
            "flat.json",
            b'{"s": "a\\nb", "f": 1.5, "g": 1e21, "h": 2.5e-7, "t": true, "n": null}',
            JSON,
            "dotenv",
            DOTENV,
        ),
        (
            "sections.json",
            b'{"DEFAULT": {"a": "1"}, "s": {"x": "a#b", "y": " sp ", "z": "l1\\nl2"}}',
            JSON,
            "ini",
            INI,
        ),
    ],
)
def test_conversions_match_sops(
    sops: Sops,
    tmp_path: Path,
    source_name: str,
    source: bytes,
    source_store: Store,
    output_type: str,
    output_store: Store | None,
) -> None:
    path, _ = _encrypt(sops, tmp_path, source_name, source)
    converted = sops.run(
        "decrypt", "--output-type", output_type, path.name, cwd=tmp_path, check=False
    )
    if output_store is None:  # sops refuses nested values in dotenv, and so do we
        assert converted.returncode != 0
        with pytest.raises(Exception, match="nested value"):
            DOTENV.dump_plain(source_store.load_plain(source))
        return
    assert converted.returncode == 0, converted.stderr.decode()
    assert output_store.dump_plain(source_store.load_plain(source)) == converted.stdout


@pytest.mark.parametrize(
    ("name", "source", "store", "path_expression", "value"),
    [
        ("x.env", DOTENV_FILES["basic"], DOTENV, '["C"]', "C"),
        ("x.ini", INI_FILES["rich"], INI, '["sec one"]["multi"]', ("sec one", "multi")),
        ("x.json", JSON_SOURCE, JSON, '["nested"]', "nested"),
        ("y.json", JSON_SOURCE, JSON, '["nums"]', "nums"),
        ("z.json", JSON_SOURCE, JSON, '["t"]', "t"),
        ("w.json", JSON_SOURCE, JSON, '["nested"]["b"]["c"]', ("nested", "b", "c")),
        ("v.json", JSON_SOURCE, JSON, '["s"]', "s"),
        ("environment.secrets", BINARY_SOURCE, BINARY, '["data"]', "data"),
    ],
)
def test_extract_matches_sops(
    sops: Sops,
    tmp_path: Path,
    name: str,
    source: bytes,
    store: Store,
    path_expression: str,
    value: str | tuple[str, ...],
) -> None:
    path, _ = _encrypt(sops, tmp_path, name, source)
    node: Node = store.load_plain(source)[0]
    for key in (value,) if isinstance(value, str) else value:
        assert isinstance(node, Branch)
        node = node.get(key)
    assert store.dump_value(node) == _decrypt(sops, path, "--extract", path_expression)


def test_dotenv_line_without_equals_is_refused_by_both(sops: Sops, tmp_path: Path) -> None:
    plain = tmp_path / "bad.env"
    plain.write_bytes(b"A=1\nNOT A VARIABLE\n")
    fingerprint = sops.keys.fingerprints[0]
    refused = sops.run("encrypt", "--pgp", fingerprint, plain.name, cwd=tmp_path, check=False)
    assert refused.returncode != 0
    with pytest.raises(Exception, match="line 2 ") as caught:
        DOTENV.load_plain(plain.read_bytes())
    assert "NOT A VARIABLE" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "source", "store"),
    [
        ("groups.env", DOTENV_FILES["basic"], DOTENV),
        ("groups.ini", INI_FILES["rich"], INI),
        ("groups.json", JSON_SOURCE, JSON),
        ("groups.secrets", BINARY_SOURCE, BINARY),
    ],
)
def test_key_group_metadata_round_trips(
    sops: Sops, tmp_path: Path, name: str, source: bytes, store: Store
) -> None:
    alice, bob = sops.keys.fingerprints[:2]
    (tmp_path / ".sops.yaml").write_text(
        "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n"
        f"      - pgp: [{alice}]\n      - pgp: [{alice}, {bob}]\n"
    )
    (tmp_path / name).write_bytes(source)
    encrypted = sops.run("encrypt", name, cwd=tmp_path).stdout
    documents, metadata = store.load_encrypted(encrypted)
    assert len(metadata["key_groups"]) == 2
    assert [key["fp"] for key in metadata["key_groups"][1]["pgp"]] == [alice, bob]
    assert str(metadata["shamir_threshold"]) == "2"
    ours = store.dump_encrypted(documents, metadata)
    if store is INI:  # sops 3.11 writes the [sops] keys in random order
        assert sorted(ours.splitlines()) == sorted(encrypted.splitlines())
    else:
        assert ours == encrypted
