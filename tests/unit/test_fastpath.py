"""The Typer-free fast path agrees with the Typer commands it stands in for."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
import typer

from secure_up.cli import fastpath
from secure_up.cli.app import app


def _typer_options(name: str) -> dict[str, str]:
    group = typer.main.get_command(app)
    command = group.commands[name]  # type: ignore[attr-defined]
    return {
        opt: param.name for param in command.params for opt in param.opts if opt.startswith("-")
    }


@pytest.mark.parametrize("name", sorted(fastpath.COMMANDS))
def test_every_fast_option_is_a_typer_option_with_the_same_parameter(name: str) -> None:
    spec = fastpath.COMMANDS[name]
    options = _typer_options(name)
    for table in (spec.flags, spec.options, spec.multi_options):
        for option, parameter in table.items():
            assert options.get(option) == parameter, option


def test_plain_decrypt_is_parsed() -> None:
    parsed = fastpath.parse(["decrypt", "--extract", '["a"]', "--ignore-mac", "f.yaml"])
    assert parsed is not None
    assert parsed[1] == {"extract": '["a"]', "ignore_mac": True, "path": Path("f.yaml")}
    parsed = fastpath.parse(["decrypt", "--input-type=json", "f"])
    assert parsed is not None
    assert parsed[1]["input_type"] == "json"


@pytest.mark.parametrize(
    "args",
    [
        ["decrypt"],
        ["decrypt", "--help", "f"],
        ["decrypt", "-h"],
        ["decrypt", "--extr", "x", "f"],
        ["decrypt", "a", "b"],
        ["decrypt", "--extract"],
        ["encrypt", "f"],
        [],
    ],
)
def test_everything_else_goes_to_typer(args: list[str]) -> None:
    assert fastpath.parse(args) is None


def test_the_generated_table_is_current() -> None:
    from secure_up.cli import gen_table

    assert gen_table.TABLE.read_text() == gen_table.render(), (
        "cli/table.py is stale: run `python -m secure_up.cli.gen_table`"
    )


def test_command_names_are_the_typer_commands() -> None:
    group = typer.main.get_command(app)
    assert set(group.commands) == fastpath.COMMAND_NAMES  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "routed"),
    [
        (["app"], ["up", "app"]),
        (["-s", "x.env", "app"], ["up", "-s", "x.env", "app"]),
        (["decrypt", "f"], ["decrypt", "f"]),
        (["up", "run"], ["up", "run"]),
        # Options before the command are the command's.
        (["-v", "up", "app"], ["up", "-v", "app"]),
        (["-s", "x.env", "-v", "run", "--", "env"], ["run", "-s", "x.env", "-v", "--", "env"]),
        (["--pristine", "compose", "--", "ps"], ["compose", "--pristine", "--", "ps"]),
        (["-s", "up", "app"], ["up", "-s", "up", "app"]),  # a secrets file named up
        (["-v", "app"], ["up", "-v", "app"]),
        (["app", "-v"], ["up", "app", "-v"]),
        (["--help"], ["--help"]),
        (["--version"], ["--version"]),
        ([], []),
    ],
)
def test_a_service_name_means_up(args: list[str], routed: list[str]) -> None:
    assert fastpath.route(args) == routed


def test_plain_run_is_parsed() -> None:
    parsed = fastpath.parse(["run", "-s", "a.env", "--secrets=b.env", "--no-mask", "--", "env"])
    assert parsed is not None
    assert parsed[1] == {
        "secrets": ["a.env", "b.env"],
        "file": [],
        "no_mask": True,
        "command": ["env"],
    }
    assert fastpath.parse(["run", "env"]) is None  # without "--": Typer decides


def _parsed(args: list[str]) -> dict[str, object]:
    parsed = fastpath.parse(args)
    assert parsed is not None, args
    command, arguments = parsed
    module, _, name = command.target.partition(":")
    inspect.signature(getattr(importlib.import_module(module), name)).bind(**arguments)
    return arguments


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["up", "-s", "x", "app"], {"secrets": ["x"], "services": ["app"]}),
        (fastpath.route(["app"]), {"services": ["app"]}),
        (["up"], {"services": []}),
        (
            fastpath.route(["-s", "a.env", "--secrets=b.env", "-p", "demo", "app", "worker"]),
            {"secrets": ["a.env", "b.env"], "project_name": "demo", "services": ["app", "worker"]},
        ),
        (
            ["up", "--attach", "-f", "a.yaml", "--file=b.yaml", "--project-name=x", "-v", "db"],
            {
                "attach": True,
                "file": ["a.yaml", "b.yaml"],
                "project_name": "x",
                "verbose": True,
                "services": ["db"],
            },
        ),
        (["up", "--pristine", "--no-mask", "app"], {"pristine": True, "no_mask": True}),
    ],
)
def test_plain_up_is_parsed(args: list[str], expected: dict[str, object]) -> None:
    arguments = _parsed(args)
    assert arguments == {"secrets": [], "file": [], "services": ["app"], **expected}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["compose", "--", "logs", "-f"], {"args": ["logs", "-f"]}),
        (
            ["compose", "-p", "demo", "-s", "a.env", "--no-mask", "--", "exec", "-T", "db", "sh"],
            {
                "project_name": "demo",
                "secrets": ["a.env"],
                "no_mask": True,
                "args": ["exec", "-T", "db", "sh"],
            },
        ),
        (
            ["compose", "--file=c.yaml", "--", "--", "ps"],
            {"file": ["c.yaml"], "args": ["--", "ps"]},
        ),
    ],
)
def test_plain_compose_is_parsed(args: list[str], expected: dict[str, object]) -> None:
    assert _parsed(args) == {"secrets": [], "file": [], **expected}


@pytest.mark.parametrize(
    "args",
    [
        ["up", "--help"],
        ["up", "-h", "app"],
        ["up", "-d", "app"],  # compose's option, not ours
        ["up", "--att", "app"],  # abbreviated
        ["up", "--attach=yes", "app"],  # a flag takes no value
        ["up", "app", "-s"],  # an option without its value
        ["up", "--", "app"],
        fastpath.route(["--help"]),
        ["compose"],
        ["compose", "--"],
        ["compose", "logs", "-f"],  # without "--"
        ["compose", "ps", "--", "logs"],
        ["compose", "--attach", "--", "ps"],  # up's flag
        ["compose", "-p"],  # an option without its value
    ],
)
def test_up_and_compose_forms_typer_must_judge(args: list[str]) -> None:
    assert fastpath.parse(args) is None
