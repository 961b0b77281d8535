"""Shared pieces of the benchmarks: a throw-away keyring, timing of real commands."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Measurement:
    seconds: list[float]
    peak_kib: list[int]

    @property
    def wall(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak(self) -> int:
        return max(self.peak_kib)


def run_measured(
    argv: Sequence[str], env: Mapping[str, str], stdout: int = subprocess.DEVNULL
) -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of one run of ``argv``."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, env=dict(env), stdout=stdout, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = process.stderr.read() if process.stderr else b""
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{argv[0]} failed: {stderr.decode(errors='replace')}")
    return elapsed, usage.ru_maxrss


def compare(
    runs: int,
    commands: dict[str, Sequence[str]],
    env: Mapping[str, str],
    extra: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Measurement]:
    """Run the commands interleaved (fair under a changing load); one warm-up each.

    ``extra`` adds variables to the environment of the commands it names.
    """
    envs = {name: {**env, **(extra or {}).get(name, {})} for name in commands}
    results = {name: Measurement([], []) for name in commands}
    for name, argv in commands.items():
        run_measured(argv, envs[name])
    for _ in range(runs):
        for name, argv in commands.items():
            seconds, peak = run_measured(argv, envs[name])
            results[name].seconds.append(seconds)
            results[name].peak_kib.append(peak)
    return results


@contextmanager
def throwaway_keyring() -> Iterator[tuple[dict[str, str], str]]:
    """A temporary GNUPGHOME with one passphrase-less key: (environment, fingerprint).

    The environment also lets Python cache bytecode (in the same temporary
    directory), as an installed copy of secure-up has it: a working tree run
    with PYTHONDONTWRITEBYTECODE would compile every module on every start.
    """
    home = Path(tempfile.mkdtemp(prefix="su-bench-"))
    home.chmod(0o700)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env |= {
        "GNUPGHOME": str(home),
        "SOPS_DISABLE_VERSION_CHECK": "1",
        "PYTHONPYCACHEPREFIX": str(home / "pycache"),
    }
    try:
        subprocess.run(
            [
                "gpg",
                "--batch",
                "--passphrase",
                "",
                "--quick-gen-key",
                "Bench <bench@example.test>",
                "default",
                "default",
                "never",
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        listing = subprocess.run(
            ["gpg", "--with-colons", "--list-secret-keys"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        fingerprint = next(
            line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")
        )
        yield env, fingerprint
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False)
        shutil.rmtree(home, ignore_errors=True)


def tool(name: str) -> str:
    """A command next to this interpreter (the venv's), else on PATH."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        sys.exit(f"{name} not found: run scripts/bootstrap.sh first")
    return found


def verdict(ratio: float, limit: float, *, at_most: bool = True) -> str:
    ok = ratio <= limit if at_most else ratio >= limit
    return f"{'PASS' if ok else 'MISS'} (target {'<=' if at_most else '>='} {limit})"
