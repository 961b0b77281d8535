"""Read a shell environment file as bash's ``source`` would set its variables, without running it.

The book's ``environment.secrets`` is a binary sops file whose plaintext is shell
(``export DBPASS=MYPASS``); sops' own ``exec-env`` hands it over as one variable
``data``. We parse it instead, for the subset of shell that only assigns:

- ``export KEY=value``, ``KEY=value``, ``KEY+=value``, ``export KEY``, several
  assignments on one line, statements separated by newlines or ``;``;
- single quotes, double quotes (``\\"``, ``\\\\``, ``\\$``, ``\\```, backslash-newline),
  ``$'...'`` (ANSI-C escapes), ``$"..."``, backslash escapes, line continuations;
- ``#`` comments at the start of a word, blank lines;
- ``$NAME`` and ``${NAME}`` for variables assigned EARLIER IN THE FILE.

Everything else is refused with a :class:`~secure_up.errors.FormatError` that names
the line, the column and the construct, never text from the file (not even a
variable name: the whole payload is encrypted, and a name after ``$`` inside a
value is a piece of that value): constructs that
would run code (command substitution, commands, functions, ``if``, pipes,
redirections) and constructs whose result depends on the shell that runs the
file (references to variables the file did not set, ``~``, special parameters,
``${NAME:-...}`` operators), plus the few spots where bash's own result is
murky (a NUL byte, a backslash at the very end, a line of only a carriage
return). Refusing the outer environment keeps the result the same for everyone
who decrypts the file, and keeps our own environment out of it. A carriage
return at the end of a value is kept, as bash keeps it.
"""

from __future__ import annotations

import re
from typing import NoReturn

from secure_up.errors import FormatError, UsageError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\+?)=")
_BLANKS = " \t"
#: Unquoted characters that end a word (bash's metacharacters).
_WORD_END = " \t\n;&|<>()"
#: Characters that start a control operator or redirection, with what they mean in bash.
_OPERATORS = {
    "&": "a background job or `&&`",
    "|": "a pipe or `||`",
    "<": "a redirection",
    ">": "a redirection",
    "(": "a subshell, array or function definition",
    ")": "a subshell, array or function definition",
}
#: Shell keywords and builtins: recognised to say "a shell keyword", never quoted back.
_KNOWN_COMMANDS = frozenset(
    "if then else elif fi case esac for select while until do done function time coproc "
    "{ } ! [[ ]] declare typeset readonly local unset set source . eval exec alias echo "
    "printf cd shopt trap read test [ true false".split()
)
#: Variables bash gives a meaning of its own: assigning them does not simply store a value.
BASH_SPECIAL_VARIABLES = frozenset(
    "_ BASHOPTS BASH_ARGV0 BASH_VERSINFO EPOCHREALTIME EPOCHSECONDS EUID GROUPS HISTCMD "
    "LINENO PPID RANDOM SECONDS SHELLOPTS SRANDOM UID".split()
)
_DOUBLE_QUOTE_ESCAPES = frozenset('$`"\\')
_ANSI_C_ESCAPES = {
    "a": 0x07, "b": 0x08, "e": 0x1B, "E": 0x1B, "f": 0x0C, "n": 0x0A, "r": 0x0D,
    "t": 0x09, "v": 0x0B, "\\": 0x5C, "'": 0x27, '"': 0x22, "?": 0x3F,
}  # fmt: skip
#: ``\\xHH``, ``\\uHHHH``, ``\\UHHHHHHHH``: how many hex digits each may take.
_ANSI_C_HEX_DIGITS = {"x": 2, "u": 4, "U": 8}
_HEX = frozenset("0123456789abcdefABCDEF")
_OCTAL = frozenset("01234567")


def parse_shell_env(text: str, source: str) -> dict[str, str]:
    """The variables ``set -a; source FILE`` would set, in assignment order.

    ``source`` names the file in error messages. Raw bytes that are not UTF-8
    travel as ``surrogateescape`` code points, as everywhere in secure-up.
    """
    return _Parser(text, source).parse()


def format_shell_assignment(key: str, value: str) -> str:
    """An ``export KEY='...'`` line (no newline) that ``source`` reads back as exactly ``value``.

    Single quotes keep every character literal; a quote inside is written ``'\\''``.
    """
    if not _NAME.fullmatch(key):
        raise UsageError(
            f"{key!r} is not a shell variable name",
            fix="use letters, digits and underscores, not starting with a digit",
        )
    if key in BASH_SPECIAL_VARIABLES:
        raise UsageError(
            f"bash gives {key} a meaning of its own; `source` would not keep a value for it",
            fix="choose another name",
        )
    if "\0" in value:
        raise FormatError(
            f"the value for {key} contains a NUL byte, which no environment variable can hold",
            fix="remove the NUL byte from the value",
        )
    quoted = value.replace("'", "'\\''")
    return f"export {key}='{quoted}'"


class _Parser:
    """A cursor over the file; each method consumes one construct."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.pos = 0
        self.variables: dict[str, str] = {}

    # -- statements -------------------------------------------------------

    def parse(self) -> dict[str, str]:
        if "\0" in self.text:
            self.pos = self.text.index("\0")
            self.refuse("a NUL byte", fix="the file is not a shell environment file")
        while True:
            self.skip_blanks()
            char = self.peek()
            if char == "":
                return self.variables
            if char == "\n":
                self.pos += 1
            elif char == "#":
                self.skip_comment()
            elif char == ";":
                self.refuse("`;` without a statement before it")
            else:
                self.statement()

    def statement(self) -> None:
        if _ASSIGNMENT.match(self.text, self.pos):
            while assignment := _ASSIGNMENT.match(self.text, self.pos):
                self.assignment(assignment)
                self.skip_blanks()
            self.end_of_statement()
        elif self.at_plain_word("export"):
            self.pos += len("export")
            self.export_arguments()
            self.end_of_statement()
        else:
            self.refuse_command()

    def export_arguments(self) -> None:
        self.skip_blanks()
        if self.at_statement_end():
            self.refuse("`export` without a name")
        while not self.at_statement_end():
            if assignment := _ASSIGNMENT.match(self.text, self.pos):
                self.assignment(assignment)
            elif (name := _NAME.match(self.text, self.pos)) and self.is_word_end(name.end()):
                # `export KEY` marks KEY for export; with `set -a` it changes nothing,
                # and a KEY the file never set stays unset.
                self.pos = name.end()
            elif self.peek() == "-":
                self.refuse("an option to `export`", fix="write `export KEY=value` lines only")
            else:
                self.refuse("an `export` argument that is not KEY or KEY=value")
            self.skip_blanks()

    def assignment(self, match: re.Match[str]) -> None:
        key, append = match.group(1), bool(match.group(2))
        if key in BASH_SPECIAL_VARIABLES:
            self.refuse(
                "an assignment to a variable bash treats specially (such as RANDOM or SECONDS)"
            )
        self.pos = match.end()
        if self.peek() == "(":
            self.refuse("an array assignment")
        value = self.word()
        if append:
            if key not in self.variables:
                self.fail(
                    "`+=` appends to a variable that is not set earlier in this file",
                    fix="assign the variable with `=` before appending to it",
                    at=match.start(),
                )
            value = self.variables[key] + value
        self.variables[key] = value

    def end_of_statement(self) -> None:
        char = self.peek()
        if char in ("", "\n", "#"):
            return
        if char == ";":
            self.pos += 1
        elif char in _OPERATORS:
            self.refuse(_OPERATORS[char])
        else:
            self.refuse(
                "a command after an assignment (`KEY=value cmd` runs cmd)",
                fix="put each assignment on its own line as `export KEY=value`",
            )

    def refuse_command(self) -> None:
        char = self.peek()
        if char == "\r":
            self.refuse(
                "a carriage return (a Windows line ending)",
                fix="convert the file to LF line endings",
            )
        if char in _OPERATORS:
            self.refuse(_OPERATORS[char])
        end = self.pos
        while end < len(self.text) and not self.is_word_end(end):
            end += 1
        if self.text[self.pos : end] in _KNOWN_COMMANDS:
            self.refuse("a shell keyword or builtin command (such as `if`, `source`, `eval`)")
        if self.peek(end) == "(" or self.text.startswith(" ()", end):
            self.refuse("a function definition")
        self.refuse("a command", fix="only `export KEY=value` and `KEY=value` lines are allowed")

    # -- words --------------------------------------------------------------

    def word(self) -> str:
        """The value of one unquoted-context word (an assignment's right-hand side)."""
        parts: list[str] = []
        start = self.pos
        while not self.is_word_end(self.pos):
            char = self.peek()
            if char == "\\":
                parts.append(self.backslash())
            elif char == "'":
                parts.append(self.single_quoted())
            elif char == '"':
                parts.append(self.double_quoted())
            elif char == "$":
                parts.append(self.dollar(in_double_quotes=False))
            elif char == "`":
                self.refuse("command substitution (backticks)")
            elif char == "~" and (self.pos == start or self.peek(self.pos - 1) == ":"):
                self.refuse(
                    "an unquoted `~` (bash replaces it with a home directory)",
                    fix="quote it: '~'",
                )
            else:
                parts.append(char)
                self.pos += 1
        return "".join(parts)

    def backslash(self) -> str:
        following = self.peek(self.pos + 1)
        self.pos += 2
        if following == "\n":
            return ""  # line continuation
        if following == "":
            # bash keeps or drops it depending on what precedes: refuse the ambiguity
            self.refuse("a backslash at the very end of the file", fix="remove it, or quote it")
        return following

    def single_quoted(self) -> str:
        start = self.pos
        end = self.text.find("'", start + 1)
        if end == -1:
            self.fail("a single quote is never closed", fix="close the quote", at=start)
        self.pos = end + 1
        return self.text[start + 1 : end]

    def double_quoted(self) -> str:
        start = self.pos
        self.pos += 1
        parts: list[str] = []
        while (char := self.peek()) != '"':
            if char == "":
                self.fail("a double quote is never closed", fix="close the quote", at=start)
            if char == "\\":
                following = self.peek(self.pos + 1)
                if following in _DOUBLE_QUOTE_ESCAPES:
                    parts.append(following)
                    self.pos += 2
                elif following == "\n":
                    self.pos += 2
                else:
                    parts.append("\\")
                    self.pos += 1
            elif char == "$":
                parts.append(self.dollar(in_double_quotes=True))
            elif char == "`":
                self.refuse("command substitution (backticks)")
            else:
                parts.append(char)
                self.pos += 1
        self.pos += 1
        return "".join(parts)

    def dollar(self, *, in_double_quotes: bool) -> str:
        following = self.peek(self.pos + 1)
        if following == "(":
            is_arithmetic = self.peek(self.pos + 2) == "("
            self.refuse(
                "arithmetic expansion" if is_arithmetic else "command substitution `$(...)`"
            )
        if following == "{":
            return self.braced_expansion()
        if name := _NAME.match(self.text, self.pos + 1):
            dollar, self.pos = self.pos, name.end()
            return self.expand(name.group(), at=dollar)
        if following == "[":
            self.refuse("arithmetic expansion `$[...]`")
        if following and following in "0123456789@*#?-$!":
            self.refuse("a special or positional parameter (such as `$1`, `$$`, `$?`)")
        if not in_double_quotes and following == "'":
            self.pos += 1
            return self.ansi_c_quoted()
        if not in_double_quotes and following == '"':
            self.pos += 1  # $"..." is a translatable string: without a catalogue, "..."
            return self.double_quoted()
        self.pos += 1
        return "$"

    def braced_expansion(self) -> str:
        name = _NAME.match(self.text, self.pos + 2)
        if name is None:
            self.refuse("a special or indirect parameter expansion `${...}`")
        if self.peek(name.end()) != "}":
            self.refuse(
                "an operator in a `${...}` expansion (such as `${NAME:-default}`)",
                fix="only $NAME and ${NAME} of variables set earlier in the file are supported",
            )
        dollar, self.pos = self.pos, name.end() + 1
        return self.expand(name.group(), at=dollar)

    def expand(self, name: str, *, at: int) -> str:
        if name not in self.variables:
            # Name neither the variable nor the one assigned: a `$` inside a
            # double-quoted password makes the "name" a piece of the password.
            self.fail(
                "a `$` expands a variable that is not set earlier in this file "
                "(its value would come from the environment of whoever runs it)",
                fix="if the `$` is part of the value, single-quote the value (or write `\\$`); "
                "else set that variable above this line in the file",
                at=at,
            )
        return self.variables[name]

    def ansi_c_quoted(self) -> str:
        """``$'...'``: bytes with C escapes, decoded as UTF-8 the way the shell passes them on."""
        start = self.pos
        self.pos += 1
        out = bytearray()
        while (char := self.peek()) != "'":
            if char == "":
                self.fail("a $'...' string is never closed", fix="close the quote", at=start - 1)
            if char == "\\":
                out += self.ansi_c_escape()
            else:
                out += char.encode("utf-8", "surrogateescape")
                self.pos += 1
        self.pos += 1
        if 0 in out:
            self.refuse("a NUL byte in a $'...' string", at=start - 1)
        return out.decode("utf-8", "surrogateescape")

    def ansi_c_escape(self) -> bytes:
        letter = self.peek(self.pos + 1)
        self.pos += 2
        if letter in _ANSI_C_ESCAPES:
            return bytes([_ANSI_C_ESCAPES[letter]])
        if letter in _OCTAL:
            digits = letter + self.take(_OCTAL, 2)
            return bytes([int(digits, 8) & 0xFF])
        if letter in _ANSI_C_HEX_DIGITS:
            digits = self.take(_HEX, _ANSI_C_HEX_DIGITS[letter])
            if not digits:
                return b"\\" + letter.encode()  # bash keeps `\x` without digits as is
            if letter == "x":
                return bytes([int(digits, 16)])
            return self.code_point(int(digits, 16))
        if letter == "c":
            self.refuse("a control-character escape `\\c` in a $'...' string")
        return b"\\" + letter.encode("utf-8", "surrogateescape")

    def code_point(self, value: int) -> bytes:
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            self.refuse("a \\u or \\U escape that is not a Unicode character")
        return chr(value).encode("utf-8")

    def take(self, allowed: frozenset[str], limit: int) -> str:
        start = self.pos
        while self.pos - start < limit and self.peek() in allowed and self.peek():
            self.pos += 1
        return self.text[start : self.pos]

    # -- helpers ------------------------------------------------------------

    def peek(self, index: int | None = None) -> str:
        index = self.pos if index is None else index
        return self.text[index] if 0 <= index < len(self.text) else ""

    def is_word_end(self, index: int) -> bool:
        return index >= len(self.text) or self.text[index] in _WORD_END

    def at_statement_end(self) -> bool:
        return self.peek() in ("", "\n", ";", "#") or self.peek() in _OPERATORS

    def at_plain_word(self, word: str) -> bool:
        return self.text.startswith(word, self.pos) and self.is_word_end(self.pos + len(word))

    def skip_blanks(self) -> None:
        while True:
            if self.peek() in _BLANKS and self.peek():
                self.pos += 1
            elif self.text.startswith("\\\n", self.pos):
                self.pos += 2
            else:
                return

    def skip_comment(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end == -1 else end

    def refuse(self, construct: str, *, fix: str | None = None, at: int | None = None) -> NoReturn:
        """Reject a construct the file may not use, naming it and its line."""
        self.fail(
            f"{construct} is not allowed in a shell environment file",
            fix=fix or "the file may only assign variables: `export KEY='value'`",
            at=at,
        )

    def fail(self, what: str, *, fix: str, at: int | None = None) -> NoReturn:
        """Raise a FormatError about the position ``at`` (default: the cursor).

        ``what`` and ``fix`` name constructs only, never text from the file:
        the whole payload is secret, so a position is all a message may point at.
        """
        offset = self.pos if at is None else at
        line = self.text.count("\n", 0, offset) + 1
        column = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        raise FormatError(f"{self.source}, line {line}, column {column}: {what}", fix=fix)
