"""Every blob in git history, streamed from ``git cat-file --batch-all-objects --batch``.

Reading every object once in one stream is what makes this fast on a repository
of 10,000 commits: no per-commit checkout or diff. Only the blobs that hold a
value are then named by the first commit and path that added them (one
``git log --raw`` pass).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

from secure_up.errors import SecureUpError
from secure_up.scan.finder import CHUNK_SIZE, Finder, Match
from secure_up.scan.report import Finding, ScanResult
from secure_up.system.process import streamed_output


class _Progress:
    """A one-line counter on a terminal (stderr), twice a second at most."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.last = 0.0

    def show(self, objects: int, size: int, *, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if final or now - self.last > 0.5:
            self.last = now
            end = "\n" if final else ""
            sys.stderr.write(f"\rhistory: {objects} objects, {size / 2**20:.0f} MiB searched{end}")
            sys.stderr.flush()


def _exact(stream: IO[bytes], size: int) -> Iterator[bytes]:
    left = size
    while left:
        chunk = stream.read(min(left, CHUNK_SIZE))
        if not chunk:
            raise SecureUpError("git cat-file ended in the middle of an object", "run git fsck")
        left -= len(chunk)
        yield chunk


def scan_history(
    repository: Path,
    finder: Finder,
    environ: Mapping[str, str],
    *,
    max_size: int,
    progress: bool,
) -> ScanResult:
    result = ScanResult(scanned={"blobs": 0})
    hits: dict[str, list[Match]] = {}
    meter = _Progress(progress)
    objects = searched = 0
    argv = ["git", "cat-file", "--batch-all-objects", "--batch", "--unordered"]
    with streamed_output(argv, env=environ, cwd=str(repository)) as (stream, finish):
        while header := stream.readline():
            name, kind, size_text = header.split()
            size = int(size_text)
            objects += 1
            body = _exact(stream, size)
            if kind == b"blob" and size <= max_size:
                result.scanned["blobs"] += 1
                if matches := finder.search(body):
                    hits[name.decode()] = matches
                searched += size
            else:
                if kind == b"blob":
                    result.notes.append(f"blob {name.decode()[:12]}: skipped, over --max-size")
                for _ in body:
                    pass
            stream.read(1)  # the newline after each object
            meter.show(objects, searched)
        done = finish()
    meter.show(objects, searched, final=True)
    if done.returncode != 0:
        raise SecureUpError(
            f"git cat-file failed in {repository}: {done.stderr.decode(errors='replace').strip()}",
            "run `secure-up scan --history` inside a git repository",
        )
    origins = _first_commits(repository, set(hits), environ)
    for blob, matches in hits.items():
        commit, path = origins.get(blob, ("", ""))
        location = f"{commit[:12]}:{path}" if commit else f"blob {blob[:12]} (in no commit)"
        detail = f"blob {blob[:12]}" if commit else ""
        result.findings.extend(
            Finding("history", location, m.variable, m.encoding, m.line, detail) for m in matches
        )
    return result


def _first_commits(
    repository: Path, blobs: set[str], environ: Mapping[str, str]
) -> dict[str, tuple[str, str]]:
    """blob -> (the oldest commit that added it, its path there)."""
    if not blobs:
        return {}
    origins: dict[str, tuple[str, str]] = {}
    argv = ["git", "log", "--all", "--reverse", "--raw", "--no-abbrev", "--no-renames"]
    argv += ["--format=%x01%H", "-z"]
    with streamed_output(argv, env=environ, cwd=str(repository)) as (stream, finish):
        commit = ""
        pending: str | None = None
        for token in _tokens(stream):
            if pending is not None:
                if pending not in origins:
                    origins[pending] = (commit, token.decode(errors="replace"))
                pending = None
            elif token.startswith(b"\x01"):
                commit = token[1:].decode()
            elif token.lstrip(b"\n").startswith(b":"):
                fields = token.split()
                blob = fields[3].decode() if len(fields) > 3 else ""
                pending = blob if blob in blobs else None
                if pending is None:
                    pending = ""  # skip the path that follows
        finish()
    origins.pop("", None)
    return origins


def _tokens(stream: IO[bytes]) -> Iterator[bytes]:
    rest = b""
    while chunk := stream.read(CHUNK_SIZE):
        parts = (rest + chunk).split(b"\0")
        rest = parts.pop()
        yield from parts
    if rest:
        yield rest
