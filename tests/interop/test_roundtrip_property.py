"""Property: any document survives both directions against the real sops.

Hypothesis generates documents; for each, (1) sops encrypts and secure-up
decrypts, which must give what sops decrypts, (2) secure-up encrypts and sops
decrypts, which must give the original data back. Each example runs real gpg
and sops, so examples are few.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from tests.conftest import SecureUp, Sops

pytestmark = [pytest.mark.sops, pytest.mark.gpg]

_TEXT = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\x85\u2028\u2029\ufeff"),
    max_size=30,
)
_KEY = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True).filter(
    lambda key: key != "sops"
)
_SCALAR = st.one_of(
    _TEXT,
    st.integers(min_value=-(2**62), max_value=2**62),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False, width=64).filter(
        lambda number: abs(number) < 1e15 and (number == 0 or abs(number) > 1e-6)
    ),
    st.none(),
)
_VALUE = st.recursive(
    _SCALAR,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(_KEY, children, max_size=4)
    ),
    max_leaves=12,
)
_DOCUMENT = st.dictionaries(_KEY, _VALUE, min_size=1, max_size=6)
_DOTENV = st.dictionaries(
    st.from_regex(r"[A-Z_][A-Z0-9_]{0,12}", fullmatch=True).filter(
        lambda key: not key.startswith("sops")
    ),
    st.text(
        st.characters(
            blacklist_categories=("Cc", "Cs"),
            blacklist_characters="\\\x85\u2028\u2029\ufeff",
        ),
        max_size=30,
    ),
    min_size=1,
    max_size=8,
)

_SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _load(kind: str, data: bytes) -> object:
    if kind == "json":
        return json.loads(data)
    if kind == "dotenv":
        lines = [line for line in data.decode().split("\n") if line]
        return dict(line.split("=", 1) for line in lines)
    return YAML(typ="safe").load(data)


def _dump(kind: str, document: dict[str, object]) -> bytes:
    if kind == "json":
        return json.dumps(document, ensure_ascii=False).encode()
    if kind == "dotenv":
        return "".join(f"{key}={value}\n" for key, value in document.items()).encode()
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode()


def _both_ways(
    kind: str, suffix: str, document: dict[str, object], sops: Sops, secure_up: SecureUp
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp, "doc" + suffix)
        plain.write_bytes(_dump(kind, document))
        expected = _load(kind, plain.read_bytes())
        fingerprint = sops.keys.fingerprints[0]

        by_sops = Path(tmp, "by-sops" + suffix)
        by_sops.write_bytes(sops.encrypt(plain))
        # What sops itself reads back, which is not always the original: sops 3.11
        # reads every JSON number as a float64, so 2**53 + 1 is already lost.
        assert _load(kind, secure_up.run("decrypt", str(by_sops)).stdout) == _load(
            kind, sops.decrypt(by_sops)
        )

        by_us = Path(tmp, "by-secure-up" + suffix)
        by_us.write_bytes(secure_up.run("encrypt", "--pgp", fingerprint, str(plain)).stdout)
        assert _load(kind, sops.decrypt(by_us)) == expected


@_SETTINGS
@given(document=_DOCUMENT)
def test_yaml_documents_survive_both_ways(
    document: dict[str, object], sops: Sops, secure_up: SecureUp
) -> None:
    _both_ways("yaml", ".yaml", document, sops, secure_up)


@_SETTINGS
@given(document=_DOCUMENT)
@example(document={"A": 2**53 + 1})  # found by this test: sops reads JSON numbers as floats
def test_json_documents_survive_both_ways(
    document: dict[str, object], sops: Sops, secure_up: SecureUp
) -> None:
    _both_ways("json", ".json", document, sops, secure_up)


@_SETTINGS
@given(document=_DOTENV)
def test_dotenv_documents_survive_both_ways(
    document: dict[str, object], sops: Sops, secure_up: SecureUp
) -> None:
    _both_ways("dotenv", ".env", document, sops, secure_up)
