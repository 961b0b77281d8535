"""The YAML store against the real sops binary: same bytes, same tree, same values.

For each plaintext document, sops encrypts it (file E) and decrypts E (text P). Then:

* layout: our tree of the plaintext, with every value and comment replaced by a
  marker as encryption does, is written exactly as E with its ciphertexts masked.
  This is what decides AADs and the MAC order: our tree is sops' tree;
* read side: our tree of E, decrypted here (gpg for the data key, AES-GCM for the
  values), is written exactly as P: we read E as sops reads it;
* round trips: E and P come back byte for byte (for layouts that sops itself
  reads back unchanged; its own output is not always stable, see the store's
  module docstring);
* ``--extract`` prints what :meth:`dump_value` prints.
"""

from __future__ import annotations

import base64
import random
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from secure_up.errors import FormatError
from secure_up.sops.stores.yaml_store import STORE
from secure_up.sops.tree import Branch, Comment, Node, Sequence, Time
from tests.conftest import GpgKeys, SecureUp, Sops

pytestmark = pytest.mark.sops

_ENC = re.compile(rb"ENC\[AES256_GCM,[^\]]*\]")
_ENC_VALUE = re.compile(r"\AENC\[AES256_GCM,data:(.*),iv:(.*),tag:(.*),type:(.*)\]\Z")

# Documents as people write them: comments at their natural places.
CORPUS = {
    "flat": "a: 1\nb: two\nc: true\nd: null\ne: ''\nf: 1.5\n",
    "comments": (
        "# Database settings\n\n# the section\ndb:\n    user: admin # the login\n"
        "    # password next\n    password: hunter2\n    # end of db\n# app\napp:\n"
        "  name: demo\n# trailing\n"
    ),
    "lists": (
        "hosts:\n  - a.example # first\n  # second\n  - b.example\n"
        "users:\n- name: x\n  role: admin\n"
        "- name: y # why\n  role: dev\n# after users\nnested:\n  - - 1\n    - 2\n  - []\n  - {}\n"
    ),
    "scalars": (
        "on: yes\nn: no\nint: 017\nhex: 0x1F\nfloat: 1.0\nbig: 1234567.0\nsmall: 0.00001\n"
        "inf: .inf\ndate: 2024-01-02\nstamp: 2024-01-02T03:04:05.120+00:00\n"
        "spaced: 2001-12-14 21:59:43.10 -5\nquoted: '2024-01-02'\ncolon: 'a: b'\n"
        "hash: 'a #b'\nlead: ' x'\ntab: \"a\\tb\"\nemoji: \"\\U0001F600\"\nunicode: grüße\n"
        "'1': one\n"
    ),
    "blocks": (
        "pem: |\n  -----BEGIN KEY-----\n  abc\n  -----END KEY-----\nfolded: >\n  one\n  two\n"
        "keep: |+\n  x\n\nstrip: |-\n  y\nflow: {a: 1, b: [x, y]}\n"
    ),
    "anchors": (
        "base: &b\n    x: 1\n    # in base\n    y: 2\ncopy: *b\nlist: &l [1, 2]\nagain: *l\n"
    ),
    "multi": "# first\na: 1\n---\n# second\nb:\n  - x\n---\n",
    "deep": "a:\n  b:\n    c:\n      # deep comment\n      d: 1\n    e: 2\n  # back\n  f: 3\n",
    "empty": "---\n",
}


def run_sops(sops: Sops, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    # The repository has a .sops.yaml: run where no config applies.
    return sops.run(*args, cwd=tmp_path, check=False)


def encrypt(sops: Sops, tmp_path: Path, text: bytes) -> subprocess.CompletedProcess[bytes]:
    plain = tmp_path / "plain.yaml"
    plain.write_bytes(text)
    return run_sops(sops, tmp_path, "encrypt", "--pgp", sops.keys.fingerprints[0], str(plain))


def decrypt(sops: Sops, tmp_path: Path, encrypted: bytes, *extra: str) -> bytes:
    path = tmp_path / "encrypted.yaml"
    path.write_bytes(encrypted)
    result = run_sops(sops, tmp_path, "decrypt", *extra, str(path))
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def masked(node: Node) -> Node:
    """What encryption does to the layout: values and comments become markers.

    Empty strings and nulls stay; sops turns a comment inside a list into a list item.
    """
    if isinstance(node, Branch):
        return Branch(
            Comment("ENC" if entry.text else "")
            if isinstance(entry, Comment)
            else (entry[0], masked(entry[1]))
            for entry in node
        )
    if isinstance(node, Sequence):
        return Sequence(
            ("ENC" if item.text else "") if isinstance(item, Comment) else masked(item)
            for item in node
        )
    return node if node is None or node == "" else "ENC"


def data_key(keys: GpgKeys, metadata: dict[str, Any]) -> bytes:
    armored: str = metadata["pgp"][0]["enc"]
    result = subprocess.run(
        ["gpg", "--batch", "--decrypt"],
        input=armored.encode(),
        capture_output=True,
        env=keys.env,
        check=True,
    )
    return result.stdout


def decrypted_value(key: bytes, text: str, aad: str) -> Node | Comment:
    match = _ENC_VALUE.match(text)
    assert match is not None
    data, iv, tag, kind = match.groups()
    cipher = AESGCM(key)
    plain = cipher.decrypt(
        base64.b64decode(iv), base64.b64decode(data) + base64.b64decode(tag), aad.encode()
    ).decode()
    if kind == "comment":
        return Comment(plain)
    converters: dict[str, Callable[[str], Node]] = {
        "int": int,
        "float": float,
        "bool": lambda text: text == "True",
        "time": Time,
    }
    return converters.get(kind, str)(plain)


def decrypted_comment(key: bytes, comment: Comment, aad: str) -> Comment:
    """sops keeps a comment it cannot decrypt (its AAD moved) as it is."""
    try:
        value = decrypted_value(key, comment.text, aad)
    except Exception:  # any failure means "keep it", as sops does
        return comment
    return value if isinstance(value, Comment) else Comment(str(value))


def decrypted(node: Node, key: bytes, path: str = "") -> Node:
    """A small stand-in for the engine: decrypt a tree as sops does, AAD from the path."""
    aad = f"{path}:" if path else ":"
    if isinstance(node, Branch):
        return Branch(
            decrypted_comment(key, entry, aad)
            if isinstance(entry, Comment)
            else (entry[0], decrypted(entry[1], key, f"{path}:{entry[0]}" if path else entry[0]))
            for entry in node
        )
    if isinstance(node, Sequence):
        items: list[Node | Comment] = []
        for item in node:
            if isinstance(item, Comment):
                items.append("" if item.text == "" else decrypted_comment(key, item, aad))
            elif isinstance(item, str) and _ENC_VALUE.match(item):
                items.append(decrypted_value(key, item, aad))
            else:
                items.append(decrypted(item, key, path))
        return Sequence(items)
    if isinstance(node, str) and _ENC_VALUE.match(node):
        value = decrypted_value(key, node, aad)
        assert not isinstance(value, Comment)
        return value
    return node


def check_layout_and_read_side(sops: Sops, tmp_path: Path, text: bytes) -> tuple[bytes, bytes]:
    result = encrypt(sops, tmp_path, text)
    assert result.returncode == 0, result.stderr.decode()
    encrypted = result.stdout
    documents, metadata = STORE.load_encrypted(encrypted)
    ours = STORE.dump_encrypted([masked(d) for d in STORE.load_plain(text)], metadata)  # type: ignore[misc]
    assert _ENC.sub(b"ENC", ours) == _ENC.sub(b"ENC", encrypted), "layout differs from sops"
    plaintext = decrypt(sops, tmp_path, encrypted)
    key = data_key(sops.keys, metadata)
    read = STORE.dump_plain([decrypted(d, key) for d in documents])  # type: ignore[misc]
    assert read == plaintext, "our reading of the encrypted file differs from sops decrypt"
    return encrypted, plaintext


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_matches_sops(sops: Sops, tmp_path: Path, name: str) -> None:
    encrypted, plaintext = check_layout_and_read_side(sops, tmp_path, CORPUS[name].encode())
    documents, metadata = STORE.load_encrypted(encrypted)
    assert STORE.dump_encrypted(documents, metadata) == encrypted
    assert STORE.dump_plain(STORE.load_plain(plaintext)) == plaintext


def test_metadata_comes_back_as_written(sops: Sops, tmp_path: Path) -> None:
    encrypted = encrypt(sops, tmp_path, b"a: 1\n").stdout
    _, metadata = STORE.load_encrypted(encrypted)
    assert list(metadata) == ["lastmodified", "mac", "pgp", "unencrypted_suffix", "version"]
    assert isinstance(metadata["lastmodified"], str)
    assert metadata["pgp"][0]["fp"] == sops.keys.fingerprints[0]
    assert f'lastmodified: "{metadata["lastmodified"]}"'.encode() in encrypted


EXTRACT_SOURCE = (
    "s: hello\ni: 12\nf: 1.5\nb: true\nn: null\nt: 2024-01-02\nml: \"a\\nb\\n\"\nq: 'yes'\n"
    "empty: ''\nsub:\n    x: 1\n    # note\n    l: [1, two]\nlst:\n    - a\n    - k: v\n"
)


@pytest.mark.parametrize("key", ["s", "i", "f", "b", "n", "t", "ml", "q", "empty", "sub", "lst"])
def test_dump_value_prints_what_sops_extract_prints(sops: Sops, tmp_path: Path, key: str) -> None:
    encrypted = encrypt(sops, tmp_path, EXTRACT_SOURCE.encode()).stdout
    extracted = decrypt(sops, tmp_path, encrypted, "--extract", f'["{key}"]')
    documents, metadata = STORE.load_encrypted(encrypted)
    value = decrypted(documents[0], data_key(sops.keys, metadata)).get(key)  # type: ignore[union-attr]
    assert STORE.dump_value(value) == extracted


@pytest.mark.parametrize(
    "text",
    ["- a\n- b\n", "plain\n", "a: [1\n", "a: 1\na: 2\n", "a: b: c\n", "<<: 1\n", "# only\n"],
)
def test_what_sops_refuses_we_refuse(sops: Sops, tmp_path: Path, text: str) -> None:
    assert encrypt(sops, tmp_path, text.encode()).returncode != 0
    with pytest.raises(FormatError):
        STORE.load_plain(text.encode())


# -- random documents: comments anywhere, odd indentation ------------------------------


def random_document(seed: int) -> bytes:
    """Block YAML with comments at random places and indents (sops' worst case)."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    keys = ["a", "b", "key", "on", "n", "'1'", "x_y", "long key", '"q"', "ü", "k-1"]
    scalars = [
        "v",
        "1",
        "-2",
        "0x1F",
        "1.5",
        "true",
        "no",
        "~",
        "",
        '"s"',
        "'t'",
        "a#b",
        "2024-01-02",
    ]
    lines: list[str] = []

    def comments(indent: int) -> None:
        while rng.random() < 0.3:
            lines.append(" " * max(0, indent + rng.choice([0, 0, 0, -2, 2, 4])) + "# c")
        if rng.random() < 0.1:
            lines.append("")

    def trailing() -> str:
        return " # t" if rng.random() < 0.3 else ""

    def mapping(indent: int, depth: int, prefix: str | None = None) -> None:
        for index, key in enumerate(rng.sample(keys, rng.randint(1, 3))):
            if index or prefix is None:
                comments(indent)
            start = prefix if index == 0 and prefix is not None else " " * indent
            value(indent, depth, f"{start}{key}:")
        comments(indent)

    def sequence(indent: int, depth: int) -> None:
        for _ in range(rng.randint(1, 3)):
            comments(indent)
            if depth > 2 or rng.random() < 0.5:
                lines.append(f"{' ' * indent}- {rng.choice(scalars) or 'x'}{trailing()}")
            else:
                mapping(indent + 2, depth + 1, prefix=" " * indent + "- ")
        comments(indent)

    def value(indent: int, depth: int, head: str) -> None:
        roll = rng.random()
        if depth > 2 or roll < 0.5:
            scalar = rng.choice(scalars)
            lines.append(f"{head} {scalar}{trailing()}" if scalar else head + trailing())
        elif roll < 0.75:
            lines.append(head + trailing())
            mapping(indent + rng.choice([2, 4]), depth + 1)
        else:
            lines.append(head + trailing())
            sequence(indent + rng.choice([0, 2, 4]), depth + 1)

    comments(0)
    mapping(0, 0)
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("seed", range(30))
def test_random_documents_match_sops(sops: Sops, tmp_path: Path, seed: int) -> None:
    text = random_document(seed)
    if encrypt(sops, tmp_path, text).returncode != 0:
        with pytest.raises(FormatError):
            STORE.load_plain(text)
        return
    check_layout_and_read_side(sops, tmp_path, text)


# -- issue 9: comments in lists, comments between levels, through both CLIs ------------

COMMENT_CASES = {
    # sops writes an encrypted comment inside a list as a `- ENC[...,type:comment]` item,
    # which it leaves out of the MAC when reading.
    "list-comments": "hosts:\n  # primary\n  - a\n  - b # inline\n  # after\nport: 1\n",
    "list-of-maps": "users:\n  # first\n  - name: x # who\n    role: y\n  # second\n  - name: z\n",
    # The comment is written between two indentation levels and reads back one level
    # deeper: its AAD moved, so sops keeps it encrypted (with a warning) instead of failing.
    "comment-between-levels": "a:\n    b:\n        c: d\n    # comment\n\ne:\n    - f\n",
}


@pytest.mark.parametrize("name", sorted(COMMENT_CASES))
@pytest.mark.parametrize("mac_only_encrypted", [False, True], ids=["mac-all", "mac-only-enc"])
def test_comment_placements_read_and_written_like_sops(
    sops: Sops, secure_up: SecureUp, tmp_path: Path, name: str, mac_only_encrypted: bool
) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text(COMMENT_CASES[name])
    fingerprint = sops.keys.fingerprints[0]
    extra = ["--mac-only-encrypted"] if mac_only_encrypted else []
    if mac_only_encrypted:
        (tmp_path / ".sops.yaml").write_text(
            f"creation_rules:\n  - pgp: {fingerprint}\n    mac_only_encrypted: true\n"
        )
        theirs = run_sops(sops, tmp_path, "encrypt", str(plain))
    else:
        theirs = run_sops(sops, tmp_path, "encrypt", "--pgp", fingerprint, str(plain))
    assert theirs.returncode == 0, theirs.stderr.decode()
    ours = secure_up.run("encrypt", "--pgp", fingerprint, *extra, str(plain), cwd=tmp_path).stdout
    # Same layout (so the same AADs), whoever writes.
    assert (
        _ENC.sub(b"ENC", ours).split(b"\nsops:\n")[0]
        == (_ENC.sub(b"ENC", theirs.stdout).split(b"\nsops:\n")[0])
    )

    sops_file, our_file = tmp_path / "sops.enc.yaml", tmp_path / "ours.enc.yaml"
    sops_file.write_bytes(theirs.stdout)
    our_file.write_bytes(ours)
    expected = decrypt(sops, tmp_path, theirs.stdout)
    for path in (sops_file, our_file):
        # A comment sops cannot decrypt stays in its encrypted form: masked to compare files.
        plaintext = decrypt(sops, tmp_path, path.read_bytes())
        assert _ENC.sub(b"ENC", plaintext) == _ENC.sub(b"ENC", expected)
        assert secure_up.run("decrypt", str(path), cwd=tmp_path).stdout == plaintext

    # `set` works on either file, and the other tool reads the result.
    secure_up.run("set", str(sops_file), "added", stdin=b"new-value", cwd=tmp_path)
    assert decrypt(sops, tmp_path, sops_file.read_bytes()) == expected + b"added: new-value\n"
    before = decrypt(sops, tmp_path, our_file.read_bytes())
    result = run_sops(sops, tmp_path, "set", str(our_file), '["added"]', '"new-value"')
    assert result.returncode == 0, result.stderr.decode()
    assert secure_up.run("decrypt", str(our_file), cwd=tmp_path).stdout == (
        before + b"added: new-value\n"
    )


def test_a_comment_sops_moved_is_kept_encrypted_with_a_warning(
    sops: Sops, secure_up: SecureUp, tmp_path: Path
) -> None:
    encrypted = encrypt(sops, tmp_path, COMMENT_CASES["comment-between-levels"].encode()).stdout
    path = tmp_path / "moved.enc.yaml"
    path.write_bytes(encrypted)
    result = secure_up.run("decrypt", str(path), cwd=tmp_path)
    assert b"a comment at a:b does not decrypt" in result.stderr
    assert b"#ENC[AES256_GCM," in result.stdout


def test_a_tampered_list_comment_item_is_refused(
    sops: Sops, secure_up: SecureUp, tmp_path: Path
) -> None:
    """A `- ENC[...,type:comment]` item is a value: it must decrypt, though not in the MAC."""
    encrypted = encrypt(sops, tmp_path, COMMENT_CASES["list-comments"].encode()).stdout
    items = re.findall(rb"- (ENC\[AES256_GCM,[^\]]*type:comment\])", encrypted)
    assert len(items) == 3
    path = tmp_path / "swapped.enc.yaml"
    # Moved to another key, the comment item no longer authenticates (its AAD is its path).
    path.write_bytes(encrypted.replace(b"port: ENC", b"port: " + items[0] + b"\nx: ENC", 1))
    assert secure_up.run("decrypt", str(path), cwd=tmp_path, check=False).returncode == 51
    assert run_sops(sops, tmp_path, "decrypt", str(path)).returncode != 0


@pytest.mark.parametrize(
    "text",
    ["a:\n    b: 1\n    b: 2\n", "a: 1\n# c\na: 2\n", "l:\n  - k: 1\n    k: 2\n"],
)
def test_duplicate_keys_are_refused_like_sops(
    sops: Sops, secure_up: SecureUp, tmp_path: Path, text: str
) -> None:
    assert encrypt(sops, tmp_path, text.encode()).returncode != 0
    plain = tmp_path / "plain.yaml"
    result = secure_up.run(
        "encrypt", "--pgp", sops.keys.fingerprints[0], str(plain), cwd=tmp_path, check=False
    )
    assert result.returncode == 1
    assert b"is defined twice" in result.stderr


def test_a_duplicate_key_in_an_encrypted_file_is_refused(
    sops: Sops, secure_up: SecureUp, tmp_path: Path
) -> None:
    """sops itself only sees top-level duplicates there; a nested one is refused too."""
    encrypted = encrypt(sops, tmp_path, b"a:\n    x: 1\n    y: secret-value\n").stdout
    lines = encrypted.splitlines(keepends=True)
    for index, label in ((2, b"'a:y'"), (5, b"'sops:")):  # a data key, a metadata key
        path = tmp_path / "dup.enc.yaml"
        path.write_bytes(b"".join([*lines[: index + 1], lines[index], *lines[index + 1 :]]))
        result = secure_up.run("decrypt", str(path), cwd=tmp_path, check=False)
        assert result.returncode == 1, result.stderr.decode()
        assert b"is defined twice" in result.stderr
        assert label in result.stderr
        assert b"secret-value" not in result.stdout + result.stderr
