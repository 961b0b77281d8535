"""Which package may import which: the layering CONTRIBUTING.md describes, checked.

Every module under src/secure_up is parsed (ast, nothing imported), and each rule
below lists its exceptions with the reason. A new exception belongs here, with
its reason, or the code belongs elsewhere.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

SOURCE: Final = Path(__file__).resolve().parents[2] / "src"
PACKAGE: Final = SOURCE / "secure_up"

#: Rule (c): modules outside sopsfile/ and keys/ that may import sops.* (none now).
SOPS_ALLOWED: Final[dict[str, str]] = {}

#: Rule (d): modules outside keys/ and sopsfile/ that may import keys.* beyond keys.services.
KEYS_ALLOWED: Final[dict[str, str]] = {
    "secure_up.__main__": (
        "the entry point starts gpg on the named files' data keys (keys.early) before the "
        "command's modules load; importing keys.services there would load every key kind first"
    ),
    "secure_up.commands.doctor": (
        "doctor diagnoses each key kind's own machinery (gpg's home and agent, age's key "
        "files and variables, the throw-away keyring of SECURE_UP_GPG_KEY)"
    ),
}

#: Rule (f): modules besides system/process.py that start programs themselves.
SPAWN_ALLOWED: Final[dict[str, str]] = {
    "secure_up.system.process": "the module that spawns and execs programs",
    "secure_up.keys.pgp": (
        "gpgconf for the gpg home the key service made (launch, list-dirs, kill its agent), "
        "a fixed program with a timeout: the key subsystem's own tool"
    ),
    "secure_up.keys.prestart": (
        "gpg --decrypt on the command line's files before the rest of secure-up loads: "
        "process.py and subprocess cost the very milliseconds it saves; the argv is the "
        "one keys/pgp.py builds, and only GnuPG takes the processes; with a CI key, a fork "
        "of ourselves (no exec) opens the data keys in memory, exactly as keys/pgp.py would"
    ),
    "secure_up.keys.passphrase_cache": (
        "gpg-connect-agent clears a passphrase from the user's agent: a fixed program with "
        "a timeout, the key subsystem's own tool"
    ),
}

#: Functions that replace or fork this process (rule f).
_SPAWNING_CALLS: Final = frozenset(
    {("os", name) for name in ("fork", "forkpty", "system", "popen", "posix_spawn", "posix_spawnp")}
    | {("os", name) for name in ("execv", "execve", "execvp", "execvpe", "execl", "execle")}
    | {("os", name) for name in ("execlp", "execlpe", "spawnv", "spawnve", "spawnvp")}
    | {("os", name) for name in ("spawnvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe")}
    | {("pty", "fork"), ("pty", "spawn")}
)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. secure_up.commands.crypt
    target: str  # what it imports, e.g. secure_up.sops.tree
    line: int
    type_only: bool  # inside ``if TYPE_CHECKING:``


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(path: Path) -> list[Import]:
    module = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    type_only = _type_checking_lines(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against this module's package
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from secure_up.sops import tree`` imports the module secure_up.sops.tree.
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [
            Import(module, target, node.lineno, node.lineno in type_only) for target in targets
        ]
    return found


def _all_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


ALL_IMPORTS: Final = [found for path in _all_modules() for found in _imports(path)]


def _ours(target: str) -> bool:
    return target == "secure_up" or target.startswith("secure_up.")


def _in(name: str, *packages: str) -> bool:
    return any(name == f"secure_up.{p}" or name.startswith(f"secure_up.{p}.") for p in packages)


def _report(bad: list[Import]) -> str:
    """One line per import statement, naming what it imports."""
    by_statement: dict[tuple[str, int], list[str]] = {}
    for found in bad:
        by_statement.setdefault((found.module, found.line), []).append(found.target)
    return "\n".join(
        f"{module}:{line} imports {', '.join(targets)}"
        for (module, line), targets in by_statement.items()
    )


def test_every_module_is_seen() -> None:
    modules = {_module_name(path) for path in _all_modules()}
    assert {"secure_up.sops.tree", "secure_up.sopsfile.file", "secure_up.keys.services"} <= modules


def test_sops_imports_only_errors_and_itself() -> None:
    """(a) The file format is pure: no keys, no files, no processes."""
    bad = [
        found
        for found in ALL_IMPORTS
        if _in(found.module, "sops")
        and _ours(found.target)
        and not _in(found.target, "sops", "errors")
    ]
    assert not bad, _report(bad)


def test_keys_import_only_what_master_keys_need() -> None:
    """(b) keys/: errors, the format (metadata entries), itself and system/.

    system/ because a key may come from a program (SOPS_AGE_KEY_CMD via process.py),
    a throw-away gpg home lives in a private directory removed on signals, and key
    files are read as regular files only. audit.record because the key services note
    which master keys a command used, for the audit log (it imports only errors).
    """
    bad = [
        found
        for found in ALL_IMPORTS
        if _in(found.module, "keys")
        and _ours(found.target)
        and not _in(found.target, "errors", "sops", "keys", "system", "audit.record")
    ]
    assert not bad, _report(bad)


def test_only_sopsfile_and_keys_reach_into_the_format() -> None:
    """(c) Everyone else goes through sopsfile (which re-exports the document model)."""
    bad = [
        found
        for found in ALL_IMPORTS
        if _in(found.target, "sops")
        and not _in(found.module, "sops", "sopsfile", "keys")
        and found.module not in SOPS_ALLOWED
    ]
    assert not bad, _report(bad)


def test_only_keys_services_is_public() -> None:
    """(d) Outside keys/ and sopsfile/, master keys are reached through keys.services only."""
    bad = [
        found
        for found in ALL_IMPORTS
        if _in(found.target, "keys")
        and found.target not in ("secure_up.keys", "secure_up.keys.services")
        and not found.target.startswith("secure_up.keys.services.")
        and not _in(found.module, "keys", "sopsfile")
        and found.module not in KEYS_ALLOWED
    ]
    assert not bad, _report(bad)


def test_launch_and_system_never_import_commands_or_cli() -> None:
    """(e) Data flows one way: the CLI calls commands, commands call launch and system."""
    bad = [
        found
        for found in ALL_IMPORTS
        if _in(found.module, "launch", "system") and _in(found.target, "commands", "cli")
    ]
    assert not bad, _report(bad)


def _spawns(path: Path) -> list[str]:
    """How ``path`` starts programs: a runtime subprocess import, or an exec/fork call."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    type_only = _type_checking_lines(tree)
    ways = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", 0) in type_only:
            continue
        if isinstance(node, ast.Import) and any(
            alias.name in ("subprocess", "pty", "multiprocessing") for alias in node.names
        ):
            ways.append(f"line {node.lineno}: import {ast.unparse(node)}")
        elif isinstance(node, ast.ImportFrom) and node.module in ("subprocess", "pty"):
            ways.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and (node.func.value.id, node.func.attr) in _SPAWNING_CALLS
        ):
            ways.append(f"line {node.lineno}: {ast.unparse(node.func)}()")
    return ways


def test_only_the_process_module_spawns() -> None:
    """(f) Programs start in system/process.py (environment, signals, exit codes in one place)."""
    bad = {
        _module_name(path): ways
        for path in _all_modules()
        if (ways := _spawns(path)) and _module_name(path) not in SPAWN_ALLOWED
    }
    assert not bad, bad


@pytest.mark.parametrize("module", sorted({*SOPS_ALLOWED, *KEYS_ALLOWED, *SPAWN_ALLOWED}))
def test_exceptions_are_still_needed(module: str) -> None:
    """An allow-list entry that no longer applies is removed, so the rule tightens again."""
    path = SOURCE.joinpath(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    imports = _imports(path)
    used = (
        (module in SOPS_ALLOWED and any(_in(found.target, "sops") for found in imports))
        or (
            module in KEYS_ALLOWED
            and any(
                _in(found.target, "keys") and not _in(found.target, "keys.services")
                for found in imports
            )
        )
        or (module in SPAWN_ALLOWED and bool(_spawns(path)))
    )
    assert used, f"{module} no longer needs its exception: remove it from the allow-list"
