"""``scan``: decrypt the project's secrets in memory and look for their values where they
should not be: the working tree, git history, images, containers.

Exit 1 when anything is found, 0 when clean. ``--no-values`` only checks that the
files a creation rule covers are encrypted, and needs no key (the pre-commit hook
``secure-up-encrypted``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from secure_up.console import Console
from secure_up.errors import ExitCode, InputFileError
from secure_up.launch import compose
from secure_up.launch.secret_values import SecretValues
from secure_up.scan import report
from secure_up.scan.finder import Finder
from secure_up.scan.report import ScanResult
from secure_up.sopsfile.config import find_config, load_config


@dataclass
class ScanOptions:
    paths: list[Path] = field(default_factory=list)
    history: bool = False
    images: bool = False
    containers: bool = False
    output: str = "table"  # table, json, sarif
    secrets_files: list[Path] = field(default_factory=list)
    compose_files: list[Path] = field(default_factory=list)
    project_name: str | None = None
    config: Path | None = None
    max_size: int = 100 * 1024 * 1024
    values: bool = True


def scan(
    options: ScanOptions, environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> int:
    from secure_up.scan import worktree

    environ = os.environ if environ is None else environ
    cwd = cwd or Path.cwd()
    compose_files = _compose_files(options, environ, cwd)
    secrets_files = [p.absolute() for p in _secrets_files(options, environ, compose_files, cwd)]
    roots = [cwd / p for p in options.paths] or [cwd]
    base = worktree.git_toplevel(cwd, environ) or cwd
    files = worktree.files_to_scan(roots, environ)
    result = ScanResult()
    config_path = find_config(cwd, options.config, environ)
    if config_path is not None and config_path.is_file():
        result.findings.extend(worktree.unencrypted_files(files, load_config(config_path), base))
    if options.values:
        finder = Finder(_values(secrets_files, environ))
        if not finder:
            result.notes.append("no secret value of 4 or more characters to search for")
        _merge(
            result,
            worktree.scan_files(
                files,
                finder,
                skip=frozenset(secrets_files),
                max_size=options.max_size,
                relative_to=base,
            ),
        )
        _scan_elsewhere(options, finder, environ, cwd, compose_files, result)
    result.findings = report.sorted_findings(list(dict.fromkeys(result.findings)))
    _print(result, options.output)
    return ExitCode.ERROR if result.findings else ExitCode.OK


def _scan_elsewhere(
    options: ScanOptions,
    finder: Finder,
    environ: Mapping[str, str],
    cwd: Path,
    compose_files: Sequence[Path],
    result: ScanResult,
) -> None:
    if options.history:
        from secure_up.scan import history, worktree

        top = worktree.git_toplevel(cwd, environ)
        if top is None:
            raise InputFileError(f"{cwd} is not in a git repository", "drop --history")
        progress = sys.stderr.isatty() and options.output == "table"
        _merge(
            result,
            history.scan_history(
                top, finder, environ, max_size=options.max_size, progress=progress
            ),
        )
    if options.images:
        from secure_up.scan import images

        names = images.compose_images(compose_files, environ)
        if not names:
            result.notes.append("images: the compose files name no image")
        _merge(result, images.scan_images(names, finder, environ, max_size=options.max_size))
    if options.containers:
        from secure_up.scan import containers

        project = containers.project_name(options.project_name, environ, compose_files)
        _merge(result, containers.scan_containers(project, finder, environ))


def _compose_files(options: ScanOptions, environ: Mapping[str, str], cwd: Path) -> list[Path]:
    try:
        return compose.find_compose_files(cwd, options.compose_files, environ)
    except InputFileError:
        if options.compose_files or options.images or options.containers:
            raise
        return []  # a repository without compose files can still be scanned


def _secrets_files(
    options: ScanOptions, environ: Mapping[str, str], compose_files: list[Path], cwd: Path
) -> list[Path]:
    if not options.values:
        return []
    found = compose.find_secrets_files(options.secrets_files, environ, compose_files, cwd=cwd)
    if not found:
        raise InputFileError(
            "no secrets file to take the values from (-s, SECURE_UP_SECRETS, x-secure-up in "
            "the compose file, or secrets/environment.secrets)",
            "name it with -s FILE, or use --no-values to check only that files are encrypted",
        )
    return found


def _values(secrets_files: Sequence[Path], environ: Mapping[str, str]) -> SecretValues:
    from secure_up.keys.services import key_services
    from secure_up.launch.secrets_loader import load_secret_values

    with key_services(environ, interactive=sys.stdin.isatty()) as keys:
        return load_secret_values(secrets_files, keys)


def _merge(result: ScanResult, part: ScanResult) -> None:
    result.findings.extend(part.findings)
    result.notes.extend(part.notes)
    for name, count in part.scanned.items():
        result.scanned[name] = result.scanned.get(name, 0) + count


def _print(result: ScanResult, output: str) -> None:
    if output == "json":
        Console.system().result(report.to_json(result))
    elif output == "sarif":
        from importlib.metadata import version

        Console.system().result(report.to_sarif(result, version("secure-up")))
    else:
        Console.system().result(report.table(result))
