"""The working tree: the files git would commit (or every file, outside git).

Files are hostile input: a symlink is never followed (a link may point outside
the tree, or at a device), only regular files are read, in chunks, and a file
larger than the limit is skipped with a note.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from secure_up.errors import SecureUpError
from secure_up.scan.finder import CHUNK_SIZE, Finder
from secure_up.scan.report import Finding, ScanResult
from secure_up.sopsfile.config import SopsConfig
from secure_up.system.process import capture

#: Larger files are skipped (with a note): secrets rarely hide in 100 MiB of data.
DEFAULT_MAX_FILE_SIZE = 100 * 1024 * 1024
GIT_TIMEOUT = 120.0


def git_toplevel(directory: Path, environ: Mapping[str, str]) -> Path | None:
    """The root of the git work tree holding ``directory``, or None outside git."""
    done = capture(
        ["git", "-C", str(directory), "rev-parse", "--show-toplevel"], env=environ, timeout=30
    )
    if done.returncode != 0:
        return None
    return Path(os.fsdecode(done.stdout.rstrip(b"\n")))


def files_to_scan(roots: Sequence[Path], environ: Mapping[str, str]) -> list[Path]:
    """The files under ``roots``: a file as given (pre-commit passes staged files), a
    directory through ``git ls-files -co --exclude-standard`` (so .gitignore holds) or,
    outside git, by walking it without following links."""
    files: list[Path] = []
    for root in roots:
        if root.is_symlink() or not root.exists():
            continue
        if not root.is_dir():
            files.append(root)
            continue
        if git_toplevel(root, environ) is not None:
            files.extend(_git_files(root, environ))
        else:
            files.extend(_walk(root))
    return list(dict.fromkeys(files))


def _git_files(root: Path, environ: Mapping[str, str]) -> Iterator[Path]:
    done = capture(
        ["git", "-C", str(root), "ls-files", "-co", "--exclude-standard", "-z"],
        env=environ,
        timeout=GIT_TIMEOUT,
    )
    if done.returncode != 0:
        raise SecureUpError(
            f"git ls-files failed in {root}: {done.stderr.decode(errors='replace').strip()}",
            "check that git works in that directory",
        )
    for name in done.stdout.split(b"\0"):
        if name:
            yield root / os.fsdecode(name)


def _walk(root: Path) -> Iterator[Path]:
    for directory, subdirectories, names in os.walk(root, followlinks=False):
        subdirectories[:] = [d for d in subdirectories if d != ".git"]
        for name in names:
            yield Path(directory) / name


def read_chunks(path: Path, max_size: int) -> Iterator[bytes] | str:
    """The chunks of a regular file, or why it is skipped (a short note)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        if error.errno == errno.ELOOP:  # a symlink, never followed
            return ""
        return f"{path}: not read ({error.strerror})"
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return ""
    if info.st_size > max_size:
        os.close(fd)
        return f"{path}: skipped, {info.st_size / 2**20:.0f} MiB is over the limit (--max-size)"

    def chunks() -> Iterator[bytes]:
        with os.fdopen(fd, "rb") as file:
            while chunk := file.read(CHUNK_SIZE):
                yield chunk

    return chunks()


def scan_files(
    files: Sequence[Path],
    finder: Finder,
    *,
    skip: frozenset[Path],
    max_size: int,
    relative_to: Path,
) -> ScanResult:
    result = ScanResult(scanned={"files": 0})
    for path in files:
        if path.absolute() in skip:
            continue
        chunks = read_chunks(path, max_size)
        if isinstance(chunks, str):
            if chunks:
                result.notes.append(chunks)
            continue
        result.scanned["files"] += 1
        shown = _shown(path, relative_to)
        result.findings.extend(
            Finding("file", shown, m.variable, m.encoding, m.line) for m in finder.search(chunks)
        )
    return result


def _shown(path: Path, base: Path) -> str:
    try:
        return str(path.absolute().relative_to(base))
    except ValueError:
        return str(path)


def unencrypted_files(
    files: Sequence[Path], config: SopsConfig, relative_to: Path
) -> list[Finding]:
    """Files whose first matching creation rule has a ``path_regex`` but that are plaintext.

    A rule without ``path_regex`` covers every file, so it does not say a file must
    be encrypted. Needs no key: only the file's structure is read.
    """
    from secure_up.sopsfile import EncryptedFile

    rules = config.creation_rules or []
    findings: list[Finding] = []
    for path in files:
        if path.is_symlink() or not path.is_file() or path.name == ".sops.yaml":
            continue
        searched = config.searched_path(path)
        rule = next((rule for rule in rules if rule.matches(searched)), None)
        if rule is None or not rule.path_regex:
            continue
        try:
            EncryptedFile.read(path)
        except SecureUpError:
            detail = f"rule {rule.origin}" if rule.origin else f"path_regex {rule.path_regex}"
            findings.append(Finding("unencrypted", _shown(path, relative_to), detail=detail))
    return findings
