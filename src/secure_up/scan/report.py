"""Findings and how they are shown: a table for people, JSON and SARIF 2.1.0 for machines.

A finding names the place and the variable; no field ever holds a value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from secure_up.console import table as console_table

Place = Literal["file", "history", "image", "container", "unencrypted"]

#: SARIF rule per kind of finding.
RULES = {
    "secret-value": "A value of a secrets file appears outside the encrypted file",
    "unencrypted-file": "A file a .sops.yaml creation rule covers is not sops-encrypted",
}


@dataclass(frozen=True)
class Finding:
    """One leak: ``place`` is the kind of place, ``location`` where exactly (file, commit, ...)."""

    place: Place
    location: str
    variable: str = ""
    encoding: str = ""
    line: int | None = None
    detail: str = ""

    @property
    def rule(self) -> str:
        return "unencrypted-file" if self.place == "unencrypted" else "secret-value"

    @property
    def where(self) -> str:
        where = f"{self.location}:{self.line}" if self.line else self.location
        return f"{where} ({self.detail})" if self.detail else where

    def message(self) -> str:
        if self.place == "unencrypted":
            return f"{self.location} is covered by a creation rule but not sops-encrypted"
        how = "" if self.encoding == "plain" else f" ({self.encoding})"
        return f"the value of {self.variable}{how} is in {self.where}"


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    #: What was not searched and why (a huge file, an image that could not be saved...).
    notes: list[str] = field(default_factory=list)
    scanned: dict[str, int] = field(default_factory=dict)


def table(result: ScanResult) -> str:
    """The findings as aligned columns, then the notes."""
    lines: list[str] = []
    if result.findings:
        rows = [(f.place, f.where, f.variable or "-", f.encoding or "-") for f in result.findings]
        lines.append(console_table(rows, ("PLACE", "WHERE", "VARIABLE", "ENCODING")).rstrip("\n"))
        lines.append(f"\n{len(result.findings)} finding(s)")
    else:
        lines.append("no secret value found")
    lines.extend(f"note: {note}" for note in result.notes)
    return "\n".join(lines) + "\n"


def to_json(result: ScanResult) -> str:
    findings = [{**asdict(f), "rule": f.rule, "message": f.message()} for f in result.findings]
    return (
        json.dumps(
            {"findings": findings, "notes": result.notes, "scanned": result.scanned}, indent=2
        )
        + "\n"
    )


def to_sarif(result: ScanResult, version: str) -> str:
    """SARIF 2.1.0: files as physical locations (with a line), other places as logical ones."""
    results: list[dict[str, Any]] = []
    for finding in result.findings:
        entry: dict[str, Any] = {
            "ruleId": finding.rule,
            "level": "error",
            "message": {"text": finding.message()},
        }
        if finding.place in ("file", "unencrypted"):
            physical: dict[str, Any] = {"artifactLocation": {"uri": finding.location}}
            if finding.line:
                physical["region"] = {"startLine": finding.line}
            entry["locations"] = [{"physicalLocation": physical}]
        else:
            logical = {"name": finding.where, "kind": finding.place}
            entry["locations"] = [{"logicalLocations": [logical]}]
        if finding.variable:
            entry["properties"] = {"variable": finding.variable, "encoding": finding.encoding}
        results.append(entry)
    rules = [{"id": rule, "shortDescription": {"text": text}} for rule, text in RULES.items()]
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "secure-up",
                        "version": version,
                        "rules": rules,
                    }
                },
                "results": results,
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "toolExecutionNotifications": [
                            {"message": {"text": note}, "level": "note"} for note in result.notes
                        ],
                    }
                ],
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


def sorted_findings(findings: Sequence[Finding]) -> list[Finding]:
    return sorted(
        findings, key=lambda f: (f.place, f.location, f.line or 0, f.variable, f.encoding)
    )
