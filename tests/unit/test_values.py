"""Where a new value comes from: generated, a real pipe, or a real terminal (a pty)."""

from __future__ import annotations

import hashlib
import os
import pty
import select
import string
import sys
import time
from collections.abc import Iterator
from typing import BinaryIO

import pytest

from secure_up.editing.values import (
    CHARSETS,
    DEFAULT_LENGTH,
    MAX_STDIN_VALUE,
    MissingValueError,
    generate_value,
    read_value,
)
from secure_up.errors import UsageError


@pytest.fixture
def pipe() -> Iterator[tuple[BinaryIO, BinaryIO]]:
    """A real OS pipe: (reader, writer)."""
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb") as reader, os.fdopen(write_fd, "wb") as writer:
        yield reader, writer


def piped(pipe: tuple[BinaryIO, BinaryIO], data: bytes) -> BinaryIO:
    reader, writer = pipe
    writer.write(data)
    writer.close()
    return reader


@pytest.mark.parametrize("charset", sorted(CHARSETS))
def test_generated_values_use_only_their_charset(charset: str) -> None:
    value = generate_value(64, charset)
    assert len(value) == 64
    assert set(value) <= set(CHARSETS[charset])


def test_generated_defaults_and_uniqueness() -> None:
    values = {generate_value() for _ in range(20)}
    assert len(values) == 20
    assert all(len(v) == DEFAULT_LENGTH and set(v) <= set(CHARSETS["alnum"]) for v in values)
    assert set(CHARSETS["ascii"]) == set(string.printable) - set(string.whitespace)


@pytest.mark.parametrize(("length", "charset"), [(0, "alnum"), (5000, "hex"), (8, "emoji")])
def test_bad_generate_options_are_usage_errors(length: int, charset: str) -> None:
    with pytest.raises(UsageError):
        generate_value(length, charset)


def test_generate_wins_without_touching_stdin(pipe: tuple[BinaryIO, BinaryIO]) -> None:
    reader = piped(pipe, b"piped")
    value = read_value("K", stdin=reader, terminal=None, generate=True, length=10)
    assert len(value) == 10
    assert reader.read() == b"piped"


def test_length_without_generate_is_refused(pipe: tuple[BinaryIO, BinaryIO]) -> None:
    with pytest.raises(UsageError, match="--generate"):
        read_value("K", stdin=piped(pipe, b"x"), terminal=None, length=5)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"s3cret", "s3cret"),
        (b"s3cret\n", "s3cret"),  # echo adds one newline: it is not part of the value
        (b"s3cret\r\n", "s3cret"),
        (b"two\nlines\n\n", "two\nlines\n"),  # only one trailing newline goes
        (b" spaces kept ", " spaces kept "),
        ("ünï€ode".encode(), "ünï€ode"),
    ],
)
def test_value_from_a_pipe(pipe: tuple[BinaryIO, BinaryIO], data: bytes, expected: str) -> None:
    assert read_value("K", stdin=piped(pipe, data), terminal=None) == expected


@pytest.mark.parametrize("data", [b"", b"\n", b"\r\n"])
def test_an_empty_pipe_is_an_empty_value(pipe: tuple[BinaryIO, BinaryIO], data: bytes) -> None:
    assert read_value("K", stdin=piped(pipe, data), terminal=None) == ""


def test_an_empty_dev_null_is_no_value() -> None:
    with open(os.devnull, "rb") as null, pytest.raises(MissingValueError, match="/dev/null"):
        read_value("K", stdin=null, terminal=None)


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"\xffs3cret-\xfe", "not UTF-8"), (b"s3cret\0tail", "NUL")],
)
def test_unusable_piped_values_are_refused_without_showing_them(
    pipe: tuple[BinaryIO, BinaryIO], data: bytes, message: str
) -> None:
    with pytest.raises(MissingValueError, match=message) as caught:
        read_value("K", stdin=piped(pipe, data), terminal=None)
    assert "s3cret" not in caught.value.diagnostics()


def test_a_huge_piped_value_is_refused(tmp_path: os.PathLike[str]) -> None:
    big = os.path.join(tmp_path, "big")
    with open(big, "wb") as handle:
        handle.write(b"x" * (MAX_STDIN_VALUE + 1))
    with open(big, "rb") as stream, pytest.raises(MissingValueError, match="longer"):
        read_value("K", stdin=stream, terminal=None)


def test_no_pipe_and_no_terminal_explains_how_to_give_a_value() -> None:
    with pytest.raises(MissingValueError) as caught:
        read_value("DBPASS", stdin=None, terminal=None)
    assert "DBPASS" in caught.value.what
    assert caught.value.fix is not None
    assert "--generate" in caught.value.fix


# -- the terminal: a real pseudo-terminal as the child's controlling terminal -----------------

_PROMPT_CHILD = """
import hashlib, sys
from secure_up.errors import SecureUpError
from secure_up.editing.values import open_terminal, read_value
try:
    value = read_value("DBPASS", stdin=sys.stdin.buffer, terminal=open_terminal())
except SecureUpError as error:
    print("ERROR", error.what)
else:
    print("RESULT", hashlib.sha256(value.encode()).hexdigest())
"""


class PromptSession:
    """A child process on a pty: type answers when prompts appear, collect everything shown."""

    def __init__(self) -> None:
        pid, self.master = pty.fork()
        if pid == 0:  # the child: replace the forked pytest at once
            os.execv(sys.executable, [sys.executable, "-c", _PROMPT_CHILD])  # noqa: S606
        self.pid = pid
        self.shown = b""

    def wait_for_prompts(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.shown.count(b"DBPASS: ") < count:
            assert time.monotonic() < deadline, f"prompt {count} never came: {self.shown!r}"
            self._read(0.2)

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def finish(self) -> bytes:
        while self._read(20):
            pass
        os.waitpid(self.pid, 0)
        os.close(self.master)
        return self.shown

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.shown += chunk
        return bool(chunk)


def _typed(answers: list[str]) -> bytes:
    """Answer each prompt in turn (every prompt ends in ``DBPASS: ``); all the child showed."""
    session = PromptSession()
    for number, answer in enumerate(answers, 1):
        session.wait_for_prompts(number)
        session.type(answer)
    return session.finish()


def test_the_terminal_asks_twice_without_echo() -> None:
    shown = _typed(["s3cret-typed", "s3cret-typed"])
    expected = hashlib.sha256(b"s3cret-typed").hexdigest().encode()
    assert b"RESULT " + expected in shown
    assert b"s3cret-typed" not in shown  # never echoed
    assert b"Again, to confirm DBPASS" in shown


def test_differing_entries_are_asked_again() -> None:
    shown = _typed(["first-try", "typo", "second-try", "second-try"])
    assert b"differ" in shown
    assert b"RESULT " + hashlib.sha256(b"second-try").hexdigest().encode() in shown
    assert b"first-try" not in shown
    assert b"second-try" not in shown


def test_three_failed_attempts_give_up() -> None:
    shown = _typed(["a", "b", "c", "d", "e", "f"])
    assert b"ERROR no value for DBPASS" in shown


def test_an_empty_entry_is_confirmed_on_the_terminal() -> None:
    session = PromptSession()
    session.wait_for_prompts(1)
    session.type("")
    deadline = time.monotonic() + 20
    while b"[y/N]" not in session.shown:
        assert time.monotonic() < deadline, session.shown
        session._read(0.2)
    session.type("y")
    shown = session.finish()
    assert b"Set DBPASS to an empty value?" in shown
    assert b"RESULT " + hashlib.sha256(b"").hexdigest().encode() in shown
