"""Changing one ``export KEY=value`` statement of a binary file's shell payload."""

from __future__ import annotations

from pathlib import Path

import pytest

from secure_up.errors import FormatError, SecureUpError
from secure_up.launch.shellenv import parse_shell_env
from secure_up.sops import tree
from secure_up.sops.stores.binary_store import DATA_KEY
from secure_up.sopsfile.shell_payload import (
    change_payload,
    set_shell_variable,
    unset_shell_variable,
)

FILE = Path("secrets/environment.secrets")
PAYLOAD = (
    "# database\n"
    "export USER=admin\n"
    "export PASSWORD='old pass'\n"
    "export MOTD='line one\n"
    "line two'\n"
    "PORT=5432  # default\n"
)


def variables(text: str) -> dict[str, str]:
    return parse_shell_env(text, "test")


def test_set_replaces_one_statement_and_keeps_every_other_line() -> None:
    changed = set_shell_variable(PAYLOAD, "PASSWORD", "n3w 'p@ss' $HOME", FILE)
    assert variables(changed) == {**variables(PAYLOAD), "PASSWORD": "n3w 'p@ss' $HOME"}
    before, after = PAYLOAD.splitlines(), changed.splitlines()
    assert [line for line in after if "PASSWORD" not in line] == [
        line for line in before if "PASSWORD" not in line
    ]


def test_set_replaces_a_statement_that_spans_lines() -> None:
    changed = set_shell_variable(PAYLOAD, "MOTD", "one line", FILE)
    assert variables(changed)["MOTD"] == "one line"
    assert "line two" not in changed
    assert changed.endswith("PORT=5432  # default\n")


def test_set_appends_a_new_variable_even_without_a_final_newline() -> None:
    changed = set_shell_variable("export A=1", "B", "two words", FILE)
    assert changed.startswith("export A=1\n")
    assert changed.endswith("\n")
    assert variables(changed) == {"A": "1", "B": "two words"}
    assert variables(set_shell_variable("", "B", "x", FILE)) == {"B": "x"}


def test_unset_drops_the_statement_only() -> None:
    changed = unset_shell_variable(PAYLOAD, "MOTD", FILE)
    assert changed == PAYLOAD.replace("export MOTD='line one\nline two'\n", "")
    assert "MOTD" not in variables(changed)


def test_unset_of_a_variable_the_payload_does_not_set() -> None:
    with pytest.raises(SecureUpError, match="sets no TOKEN; nothing was changed"):
        unset_shell_variable(PAYLOAD, "TOKEN", FILE)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("export A=1\nexport A=2\n", "assigned 2 times"),
        ("export B=1 A=2\n", "not assigned on a line of its own"),
        ("export A=1\nexport B=$A\n", "others are built from it"),
    ],
)
def test_a_statement_that_cannot_change_alone_is_left_to_edit(text: str, reason: str) -> None:
    with pytest.raises(SecureUpError, match=reason) as caught:
        set_shell_variable(text, "A", "s3cret", FILE)
    assert "secure-up edit" in (caught.value.fix or "")
    assert "s3cret" not in caught.value.diagnostics()


def test_a_payload_that_is_not_plain_assignments_is_refused() -> None:
    with pytest.raises(FormatError, match="only when they hold `export KEY=value` lines"):
        set_shell_variable("export A=$(whoami)\n", "B", "x", FILE)


def test_change_payload_replaces_the_data_of_a_binary_document() -> None:
    document = tree.Branch([(DATA_KEY, "export A=1\n")])
    change_payload(document, FILE, lambda text: text + "export B=2\n")
    assert document.get(DATA_KEY) == "export A=1\nexport B=2\n"
    with pytest.raises(FormatError, match="has no binary payload"):
        change_payload(tree.Branch(), FILE, lambda text: text)
