"""Fuzz the parsers that read hostile text: the dotenv, INI, JSON and binary stores, the
sops metadata, and the shell-payload parser (the YAML store has its own in test_yaml_store).

Whatever the input: no exception but our own errors, no hang (each example has a
deadline), and no piece of a value in any message. A marker planted in value positions
must never come back in an error's text, its fix or its args (the sops metadata is
plaintext, so of its parser only our own errors are asked).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secure_up.errors import SecureUpError
from secure_up.launch.shellenv import parse_shell_env
from secure_up.sops.metadata import parse_metadata
from secure_up.sops.stores import store_for

MARKER = "Zq7MARKERx"

_PIECES = st.sampled_from(
    ['"', "'", "\\", "$", "${", "}", "{", "[", "]", ",", ":", "=", "#", ";", " ", "\t", "\n",
     "\r", "export ", "ENC[", "AES256_GCM,data:", "sops_", "`", "$(", ")", "\x00", "\ufeff"]
)  # fmt: skip
_TEXT = st.text(st.characters(categories=["L", "N", "P", "S", "Zs"]), max_size=4)
_AROUND = st.lists(st.one_of(_PIECES, _TEXT), max_size=5).map("".join)


@st.composite
def _values(draw: st.DrawFn) -> str:
    return draw(_AROUND.filter(lambda s: "\n" not in s)) + MARKER + draw(_AROUND)


@st.composite
def _dotenv(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        key = draw(st.sampled_from(["A", "sops_mac", "sops_version", "K_1", "sops_lastmodified"]))
        lines.append(draw(st.sampled_from([f"{key}={draw(_values())}", draw(_AROUND)])))
    return "\n".join(lines)


@st.composite
def _ini(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["section", "value", "value", "garbage"]))
        if kind == "section":
            lines.append(f"[{draw(st.sampled_from(['s', 'sops', 'DEFAULT', '']))}]")
        elif kind == "value":
            lines.append(f"{draw(st.sampled_from(['k', 'mac', 'version']))} = {draw(_values())}")
        else:
            lines.append(draw(_AROUND))
    return "\n".join(lines)


@st.composite
def _json(draw: st.DrawFn) -> str:
    parts = ["{"]
    for _ in range(draw(st.integers(0, 5))):
        key = draw(st.sampled_from(["k", "sops", "mac", "a"]))
        value = draw(_values()).replace("\\", "\\\\").replace('"', '\\"')
        parts.append(f'"{key}": "{value}"' + draw(st.sampled_from([",", "", "}", ",{", "]"])))
    parts.append(draw(st.sampled_from(["}", "", "}}", "]"])))
    return "".join(parts)


@st.composite
def _shell(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        quote = draw(st.sampled_from(['"', "'", ""]))
        lines.append(f"export DBPASS={quote}{draw(_values())}{quote}")
        lines.append(draw(_AROUND))
    return "\n".join(lines)


def _clean_failure(action: Callable[[], object]) -> None:
    try:
        action()
    except SecureUpError as error:  # anything else fails the test
        text = f"{error} {error.what} {error.fix} {error.args!r}"
        assert MARKER not in text
        assert MARKER[2:-2] not in text, "a piece of a value came back"


@pytest.mark.parametrize(
    ("file_type", "texts"),
    [("dotenv", _dotenv()), ("ini", _ini()), ("json", _json()), ("binary", _AROUND)],
)
def test_stores_load_or_fail_cleanly(file_type: str, texts: st.SearchStrategy[str]) -> None:
    store = store_for(file_type)  # type: ignore[arg-type]

    @settings(max_examples=150, deadline=timedelta(seconds=5))
    @given(st.one_of(texts, st.text(max_size=120), st.binary(max_size=120).map(repr)))
    def check(text: str) -> None:
        data = text.encode("utf-8", "surrogatepass")
        _clean_failure(lambda: store.load_plain(data))

        _clean_failure(lambda: store.load_encrypted(data))
        try:  # the metadata is plaintext (not secret): only our own errors are asked of it
            parse_metadata(store.load_encrypted(data)[1])
        except SecureUpError:
            pass

    check()


@settings(max_examples=300, deadline=timedelta(seconds=5))
@given(st.one_of(_shell(), _AROUND))
def test_the_shell_payload_parser_never_quotes_the_payload(text: str) -> None:
    _clean_failure(lambda: parse_shell_env(text, "environment.secrets"))
