"""The Typer app's commands and the fast commands' options: generated, do not edit.

Made by ``python -m secure_up.cli.gen_table`` from ``cli/app.py``;
``tests/unit/test_fastpath.py`` checks that it is current.
"""

COMMAND_NAMES = frozenset(
    {
        "audit",
        "check",
        "compose",
        "decrypt",
        "deploy",
        "doctor",
        "edit",
        "encrypt",
        "filestatus",
        "init",
        "renew",
        "rotate",
        "run",
        "scan",
        "set",
        "stack",
        "unset",
        "up",
        "updatekeys",
    }
)

#: For each fast command: option -> (parameter, kind), kind one of flag, value, multi.
OPTIONS: dict[str, dict[str, tuple[str, str]]] = {
    "compose": {
        "--secrets": ("secrets", "multi"),
        "-s": ("secrets", "multi"),
        "--file": ("file", "multi"),
        "-f": ("file", "multi"),
        "--project-name": ("project_name", "value"),
        "-p": ("project_name", "value"),
        "--pristine": ("pristine", "flag"),
        "--no-mask": ("no_mask", "flag"),
        "--verbose": ("verbose", "flag"),
        "-v": ("verbose", "flag"),
    },
    "decrypt": {
        "--extract": ("extract", "value"),
        "--input-type": ("input_type", "value"),
        "--output-type": ("output_type", "value"),
        "--ignore-mac": ("ignore_mac", "flag"),
    },
    "run": {
        "--secrets": ("secrets", "multi"),
        "-s": ("secrets", "multi"),
        "--file": ("file", "multi"),
        "-f": ("file", "multi"),
        "--pristine": ("pristine", "flag"),
        "--no-mask": ("no_mask", "flag"),
        "--verbose": ("verbose", "flag"),
        "-v": ("verbose", "flag"),
    },
    "up": {
        "--attach": ("attach", "flag"),
        "--secrets": ("secrets", "multi"),
        "-s": ("secrets", "multi"),
        "--file": ("file", "multi"),
        "-f": ("file", "multi"),
        "--project-name": ("project_name", "value"),
        "-p": ("project_name", "value"),
        "--pristine": ("pristine", "flag"),
        "--no-mask": ("no_mask", "flag"),
        "--verbose": ("verbose", "flag"),
        "-v": ("verbose", "flag"),
    },
}
