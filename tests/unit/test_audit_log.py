"""The audit log's hash chain: appended lines verify; an edited, removed or moved line is named."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from secure_up.audit import log
from secure_up.audit.record import AuditRecord, begin, note_arguments, note_variables, positionals
from secure_up.commands.audit import parse_since


def _fill(path: Path, count: int) -> None:
    for number in range(count):
        record = AuditRecord(f"cmd{number}", variables={"DBPASS": None})
        log.append(log.entry_for(record, 0), str(path))


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def test_chain_is_intact(tmp_path: Path) -> None:
    path = tmp_path / "state" / "audit.log"
    _fill(path, 4)
    assert log.verify(path) == (4, [])
    assert (path.stat().st_mode & 0o777) == 0o600
    first = json.loads(_lines(path)[0])
    assert first["prev"] == log.GENESIS
    assert first["variables"] == ["DBPASS"]


def test_edited_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    _fill(path, 4)
    lines = _lines(path)
    lines[1] = lines[1].replace('"exit": 0', '"exit": 1')
    path.write_text("".join(lines))
    _, problems = log.verify(path)
    assert [p.line for p in problems] == [2]
    assert "edited" in problems[0].what


def test_edited_line_with_a_recomputed_hash_breaks_the_next(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    _fill(path, 3)
    lines = _lines(path)
    entry = json.loads(lines[1])
    entry["user"] = "mallory"
    entry["hash"] = log._hash(entry)
    lines[1] = json.dumps(entry) + "\n"
    path.write_text("".join(lines))
    assert [p.line for p in log.verify(path)[1]] == [3]


def test_removed_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    _fill(path, 4)
    lines = _lines(path)
    del lines[1]
    path.write_text("".join(lines))
    _, problems = log.verify(path)
    assert [p.line for p in problems] == [2]
    assert "does not follow line 1" in problems[0].what


def test_removed_first_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    _fill(path, 2)
    path.write_text("".join(_lines(path)[1:]))
    assert "the start of the log" in log.verify(path)[1][0].what


def test_reordered_lines_are_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    _fill(path, 4)
    lines = _lines(path)
    lines[1], lines[2] = lines[2], lines[1]
    path.write_text("".join(lines))
    assert [p.line for p in log.verify(path)[1]][:1] == [2]


def test_destination(tmp_path: Path) -> None:
    assert log.destination({"SECURE_UP_AUDIT_LOG": "-"}) == "-"
    assert log.destination({"XDG_STATE_HOME": "/s"}) == "/s/secure-up/audit.log"
    assert log.destination({"HOME": "/h"}) == "/h/.local/state/secure-up/audit.log"


def test_unwritable_log_warns_and_keeps_the_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    environ = {"SECURE_UP_AUDIT_LOG": str(blocker / "audit.log")}
    assert log.write(AuditRecord("decrypt"), 0, environ) == 0
    assert "warning: the audit log" in capsys.readouterr().err
    strict = {**environ, "SECURE_UP_AUDIT_REQUIRED": "1"}
    assert log.write(AuditRecord("decrypt"), 0, strict) == 1


def test_arguments_only_after_success() -> None:
    record = begin("set")
    note_variables(["A"])
    note_arguments(record, ["set", "secrets/none.env", "DBPASS"], 0)
    assert list(record.variables) == ["A", "DBPASS"]
    refused = begin("up")
    note_arguments(refused, ["up", "s3cr3t"], 1)
    assert not refused.services
    assert positionals(["run", "-s", "x.env", "--", "cmd"]) == []


def test_since() -> None:
    now = datetime(2024, 5, 2, 12, tzinfo=UTC)
    assert parse_since("2h", now) == datetime(2024, 5, 2, 10, tzinfo=UTC)
    assert parse_since("2024-05-01", now) == datetime(2024, 5, 1, tzinfo=UTC)


def test_user_is_the_account_of_our_user_id_not_what_the_environment_claims(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os
    import pwd

    for variable in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(variable, "mallory")
    entry = log.entry_for(AuditRecord("decrypt"), 0)
    assert entry["user"] == pwd.getpwuid(os.getuid()).pw_name != "mallory"
