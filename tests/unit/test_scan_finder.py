"""The multi-pattern finder and the report: every encoding found, across chunk boundaries,
with the right line, and no value in any output."""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest

from secure_up.scan import report
from secure_up.scan.finder import Finder, Match, encodings_of, strings_in
from secure_up.scan.report import Finding, ScanResult

VALUE = 's3cr3t/v+al "ue!\\'


@pytest.mark.parametrize("prefix", ["", "a", "ab", "abc", "abcd"])
def test_base64_at_every_offset(prefix: str) -> None:
    finder = Finder({"TOKEN": VALUE})
    encoded = base64.b64encode((prefix + VALUE + "tail").encode())
    matches = finder.search([b"x: " + encoded + b"\n"])
    assert Match("TOKEN", "base64", 1) in matches


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (VALUE, "plain"),
        (urllib.parse.quote(VALUE, safe=""), "url-encoded"),
        (urllib.parse.quote_plus(VALUE), "url-encoded"),
        (json.dumps("x" + VALUE + '"q')[1:-1], "json-escaped"),
    ],
)
def test_encodings(text: str, encoding: str) -> None:
    matches = Finder({"TOKEN": VALUE}).search([f"line one\nsome {text} here\n".encode()])
    assert Match("TOKEN", encoding, 2) in matches


def test_base64url() -> None:
    value = "\u00fb\u00ff\u00fe>>>???"  # encodes to '-' and '_' in the URL-safe alphabet
    encoded = base64.urlsafe_b64encode(value.encode()).decode()
    assert "-" in encoded or "_" in encoded
    assert Match("K", "base64url", 1) in Finder({"K": value}).search([encoded.encode()])


def test_short_values_are_not_searched() -> None:
    finder = Finder({"SHORT": "abc", "LONG": "abcd"})
    assert finder.variables == ["LONG"]
    assert not Finder({"SHORT": "ab"})


def test_match_across_chunk_boundaries_with_lines() -> None:
    finder = Finder({"A": "needle-value"})
    data = b"x\n" * 1000 + b"the needle-value is here\n" + b"y\n" * 10 + b"needle-value"
    for size in (1, 3, 7, 64, 4096):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        lines = sorted(m.line for m in finder.search(chunks) if m.encoding == "plain")
        assert lines == [1001, 1012], size


def test_encodings_do_not_collide_with_the_raw_value() -> None:
    patterns = encodings_of("plainvalue")
    assert patterns[b"plainvalue"] == "plain"


def test_repr_hides_values() -> None:
    assert VALUE not in repr(Finder({"TOKEN": VALUE}))


def test_strings_in_names_json_paths() -> None:
    found = dict(strings_in({"Config": {"Env": ["A=1", "B=2"]}}))
    assert found["Config.Env[1]"] == "B=2"


def test_reports_hold_no_value_and_sarif_is_2_1_0() -> None:
    result = ScanResult(
        findings=[
            Finding("file", "app.yaml", "TOKEN", "base64", 3),
            Finding("history", "abc:old.env", "TOKEN", "plain", 1, "blob abc"),
            Finding("unencrypted", "secrets/x.env", detail="rule .sops.yaml:2"),
        ],
        notes=["big.bin: skipped"],
    )
    table = report.table(result)
    assert "app.yaml:3" in table
    assert "TOKEN" in table
    sarif = json.loads(report.to_sarif(result, "0.1.0"))
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    assert results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
    assert {r["ruleId"] for r in results} == {"secret-value", "unencrypted-file"}
    assert json.loads(report.to_json(result))["findings"][0]["variable"] == "TOKEN"


def test_many_matches_stay_linear() -> None:
    import time

    finder = Finder({"A": "abcd", "B": "xabcdx"})
    data = b"xabcdx\n" * 200_000
    started = time.monotonic()
    matches = finder.search([data])
    assert len(matches) == 400_000
    assert time.monotonic() - started < 10
    assert Match("B", "plain", 200_000) in matches
    assert Match("A", "plain", 200_000) in matches
