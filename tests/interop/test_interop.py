"""Both directions against the real sops binary, for every format and rule.

Files are made at test time: sops encrypts, secure-up decrypts (and the result
must equal what sops decrypts); secure-up encrypts, sops decrypts (and the
result must equal the original).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import SecureUp, Sops

pytestmark = [pytest.mark.sops, pytest.mark.gpg]

NESTED_YAML = """\
# top comment
db:
  # the password
  password: hunter2 # trailing
  port: 5432
  ratio: 1.5
  big: 12345678901234
  negative: -7
  "on": true
  off_switch: false
  nothing: null
  when: 2024-01-02T03:04:05Z
  empty: ""
  quoted: "with: colon and # hash"
  multi: |
    line one
    line two
hosts:
  - name: a # x
    ip: 1.2.3.4
  - b
  - 3
  - [nested, list]
unicode: "héllo wörld ✓"
public_unencrypted: visible
# foot comment
"""

MULTI_DOC_YAML = "a: 1\nb: two\n---\nc: [1, 2]\nd:\n  e: f\n"

JSON_DOC = (
    json.dumps(
        {
            "a": "x",
            "n": 1,
            "f": 2.5,
            "t": True,
            "z": None,
            "l": [1, "two", {"k": "v"}],
            "o": {"p": {"q": "deep"}},
            "u": "ünï€ode",
            "e": "",
        },
        indent=2,
    )
    + "\n"
)

DOTENV = (
    "PLAIN=value\n"
    "WITH_EQUALS=a=b=c\n"
    "SPACES=has some spaces \n"
    "QUOTES='single' \"double\"\n"
    "DOLLAR=$HOME ${X} $$\n"
    "UNICODE=héllo ✓\n"
    "EMPTY=\n"
    "# a comment\n"
    "NEWLINE=first\\nsecond\n"
    "BACKSLASH=C:\\path\n"
)

INI_DOC = """\
top = level
[database]
user = admin
password = p@ss=word;x
port = 5432
[empty]
[web]
url = https://example.test/?a=1&b=2
"""

BINARY = bytes(range(256)) + b"\x00\xff export DBPASS='x'\n"

SHELL_ENV = b"export DBPASS='MY PASS $x'\nexport OTHER=plain\n"


def _write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _load_yaml_all(data: bytes) -> list[object]:
    return list(YAML(typ="safe").load_all(data))


def _same(kind: str, ours: bytes, theirs: bytes) -> None:
    if kind == "yaml":
        assert _load_yaml_all(ours) == _load_yaml_all(theirs)
    elif kind == "json":
        assert json.loads(ours) == json.loads(theirs)
    else:
        assert ours == theirs


CASES = [
    ("nested.yaml", NESTED_YAML, "yaml"),
    ("multi.yaml", MULTI_DOC_YAML, "yaml"),
    ("doc.json", JSON_DOC, "json"),
    ("vars.env", DOTENV, "dotenv"),
    ("conf.ini", INI_DOC, "ini"),
    ("blob.bin", BINARY, "binary"),
    ("environment.secrets", SHELL_ENV, "binary"),
]


@pytest.mark.parametrize(("name", "content", "kind"), CASES, ids=[c[0] for c in CASES])
def test_sops_encrypts_secure_up_decrypts(
    tmp_path: Path, sops: Sops, secure_up: SecureUp, name: str, content: str | bytes, kind: str
) -> None:
    plain = _write(tmp_path, name, content)
    encrypted = _write(tmp_path, "enc-" + name, sops.encrypt(plain))
    theirs = sops.decrypt(encrypted)
    ours = secure_up.run("decrypt", str(encrypted)).stdout
    if kind in ("dotenv", "binary", "yaml"):
        assert ours == theirs  # byte-identical
    _same(kind, ours, theirs)


@pytest.mark.parametrize(("name", "content", "kind"), CASES, ids=[c[0] for c in CASES])
def test_secure_up_encrypts_sops_decrypts(
    tmp_path: Path, sops: Sops, secure_up: SecureUp, name: str, content: str | bytes, kind: str
) -> None:
    plain = _write(tmp_path, name, content)
    fingerprint = sops.keys.fingerprints[0]
    encrypted = _write(
        tmp_path, "enc-" + name, secure_up.run("encrypt", "--pgp", fingerprint, str(plain)).stdout
    )
    theirs = sops.decrypt(encrypted)
    original = sops.run("decrypt", str(_write(tmp_path, "ref-" + name, sops.encrypt(plain)))).stdout
    _same(kind, theirs, original)
    if kind in ("dotenv", "binary"):
        assert theirs == plain.read_bytes()


RULES = [
    ("--unencrypted-suffix", "_clear"),
    ("--encrypted-suffix", "_secret"),
    ("--unencrypted-regex", "^pub"),
    ("--encrypted-regex", "^(password|token)$"),
    ("--unencrypted-comment-regex", "sops:clear"),
    ("--encrypted-comment-regex", "sops:secret"),
]

RULES_YAML = """\
password: p1
token: t1
public: pub-value
name_clear: c1
name_secret: s1
# sops:clear
cleartext_under_comment: visible
# sops:secret
secret_under_comment: hidden
nested:
  password: p2
  pub_key: k
"""


def _sops_with_rule(tmp_path: Path, sops: Sops, plain: Path, rule: str, *extra: str) -> bytes:
    """Real sops 3.11 takes comment rules and mac_only_encrypted from .sops.yaml only."""
    config = tmp_path / ".sops.yaml"
    config.write_text(f"creation_rules:\n  - pgp: {sops.keys.fingerprints[0]}\n{rule}")
    try:
        return sops.run("encrypt", *extra, str(plain), cwd=tmp_path).stdout
    finally:
        config.unlink()


@pytest.mark.parametrize(("flag", "value"), RULES, ids=[r[0].strip("-") for r in RULES])
@pytest.mark.parametrize("direction", ["sops-writes", "secure-up-writes"])
def test_encryption_rules_both_ways(
    tmp_path: Path, sops: Sops, secure_up: SecureUp, flag: str, value: str, direction: str
) -> None:
    plain = _write(tmp_path, "rules.yaml", RULES_YAML)
    fingerprint = sops.keys.fingerprints[0]
    rule = f"    {flag.strip('-').replace('-', '_')}: '{value}'\n"
    reference = _sops_with_rule(tmp_path, sops, plain, rule)
    if direction == "sops-writes":
        data = reference
    else:
        data = secure_up.run("encrypt", "--pgp", fingerprint, flag, value, str(plain)).stdout
    encrypted = _write(tmp_path, "rules.enc.yaml", data)
    # The same values are left in clear text by both tools.
    assert _clear_values(data) == _clear_values(reference)
    ours = secure_up.run("decrypt", str(encrypted)).stdout
    theirs = sops.decrypt(encrypted)
    _same("yaml", ours, theirs)
    _same("yaml", theirs, plain.read_bytes())


def _clear_values(data: bytes) -> list[str]:
    """The paths of values left in clear text (the sops metadata aside)."""
    paths: list[str] = []

    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}[{index}]")
        elif not (isinstance(node, str) and node.startswith("ENC[")):
            paths.append(path)

    for document in _load_yaml_all(data):
        assert isinstance(document, dict)
        walk({key: value for key, value in document.items() if key != "sops"}, "")
    return sorted(paths)


@pytest.mark.parametrize("direction", ["sops-writes", "secure-up-writes"])
def test_mac_only_encrypted(
    tmp_path: Path, sops: Sops, secure_up: SecureUp, direction: str
) -> None:
    plain = _write(tmp_path, "m.yaml", RULES_YAML)
    if direction == "sops-writes":
        rule = "    encrypted_regex: '^password$'\n    mac_only_encrypted: true\n"
        data = _sops_with_rule(tmp_path, sops, plain, rule)
    else:
        data = secure_up.run(
            "encrypt",
            "--pgp",
            sops.keys.fingerprints[0],
            "--encrypted-regex",
            "^password$",
            "--mac-only-encrypted",
            str(plain),
        ).stdout
    encrypted = _write(tmp_path, "m.enc.yaml", data)
    assert b"mac_only_encrypted: true" in data
    # A clear-text value may change without breaking the MAC, for both tools.
    encrypted.write_bytes(data.replace(b"token: t1", b"token: t2"))
    _same("yaml", secure_up.run("decrypt", str(encrypted)).stdout, sops.decrypt(encrypted))


def test_several_recipients_each_can_open(tmp_path: Path, sops: Sops, secure_up: SecureUp) -> None:
    plain = _write(tmp_path, "team.yaml", "a: b\n")
    both = ",".join(sops.keys.fingerprints)
    for tool in (sops, secure_up):
        encrypted = _write(
            tmp_path, "team.enc.yaml", tool.run("encrypt", "--pgp", both, str(plain)).stdout
        )
        text = encrypted.read_text()
        assert all(fp in text for fp in sops.keys.fingerprints)
        _same("yaml", secure_up.run("decrypt", str(encrypted)).stdout, b"a: b\n")
        _same("yaml", sops.decrypt(encrypted), b"a: b\n")


def test_extract_matches_sops(tmp_path: Path, sops: Sops, secure_up: SecureUp) -> None:
    encrypted = _write(
        tmp_path, "n.enc.yaml", sops.encrypt(_write(tmp_path, "n.yaml", NESTED_YAML))
    )
    # (Not into a list holding comments: sops counts the comments as list elements there.)
    for path in ('["db"]["password"]', '["db"]["port"]', '["db"]', '["unicode"]'):
        ours = secure_up.run("decrypt", "--extract", path, str(encrypted)).stdout
        theirs = sops.decrypt(encrypted, "--extract", path)
        assert ours == theirs, path


def test_extract_from_a_list(tmp_path: Path, sops: Sops, secure_up: SecureUp) -> None:
    encrypted = _write(
        tmp_path, "l.enc.yaml", sops.encrypt(_write(tmp_path, "l.yaml", "l:\n  - a\n  - k: v\n"))
    )
    for path in ('["l"][0]', '["l"][1]', '["l"][1]["k"]', '["l"]'):
        assert secure_up.run("decrypt", "--extract", path, str(encrypted)).stdout == sops.decrypt(
            encrypted, "--extract", path
        ), path


def test_filestatus(tmp_path: Path, sops: Sops, secure_up: SecureUp) -> None:
    plain = _write(tmp_path, "s.yaml", "a: b\n")
    encrypted = _write(tmp_path, "s.enc.yaml", sops.encrypt(plain))
    for path, expected in ((plain, False), (encrypted, True)):
        ours = json.loads(secure_up.run("filestatus", str(path)).stdout)
        theirs = json.loads(sops.run("filestatus", str(path)).stdout)
        assert ours == theirs == {"encrypted": expected}
