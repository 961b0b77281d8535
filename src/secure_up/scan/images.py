"""The images the compose files name: their layers and their config (env, labels, history).

``docker image save`` is read as a stream through tarfile (never unpacked to
disk, never held in memory whole); each layer is itself a tar, read as a stream
too, member by member, through the finder.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from secure_up.scan.finder import CHUNK_SIZE, Finder, described, strings_in
from secure_up.scan.report import Finding, ScanResult
from secure_up.system.process import streamed_output

#: A config or manifest is small; a larger member is a layer (or data).
_JSON_LIMIT = 16 * 1024 * 1024
_HEAD = 1 << 16
_SKIPPED = frozenset({"manifest.json", "repositories", "index.json", "oci-layout"})
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::?[-?+]([^}]*))?\}|(\w+))")


def compose_images(compose_files: Sequence[Path], environ: Mapping[str, str]) -> list[str]:
    """The ``image:`` of every service, with ``${VAR:-default}`` filled from ``environ``."""
    from secure_up.launch import compose_file

    images: list[str] = []
    for path in compose_files:
        document = compose_file.data(path) or {}
        services = (document.get("services") if isinstance(document, dict) else None) or {}
        for service in services.values():
            image = service.get("image") if isinstance(service, dict) else None
            if isinstance(image, str):
                images.append(_VARIABLE.sub(lambda m: _fill(m, environ), image))
    return list(dict.fromkeys(images))


def _fill(match: re.Match[str], environ: Mapping[str, str]) -> str:
    name = match.group(1) or match.group(3)
    return environ.get(name) or (match.group(2) or "")


def scan_images(
    images: Sequence[str], finder: Finder, environ: Mapping[str, str], *, max_size: int
) -> ScanResult:
    result = ScanResult(scanned={"images": 0, "layer files": 0})
    for image in images:
        with streamed_output(["docker", "image", "save", image], env=environ) as (stream, finish):
            try:
                _scan_archive(image, stream, finder, result, max_size)
            except tarfile.TarError:
                pass  # the reason is on docker's stderr, reported below
            done = finish()
        if done.returncode != 0:
            reason = done.stderr.decode(errors="replace").strip().splitlines()
            result.notes.append(
                f"image {image}: not scanned ({reason[-1] if reason else 'docker failed'})"
            )
        else:
            result.scanned["images"] += 1
    return result


def _scan_archive(
    image: str, stream: IO[bytes], finder: Finder, result: ScanResult, max_size: int
) -> None:
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for member in archive:
            base = member.name.rsplit("/", 1)[-1]
            if not member.isfile() or base in _SKIPPED or member.name.endswith("/json"):
                continue  # <id>/json: the legacy copy of the config
            content = archive.extractfile(member)
            if content is None:
                continue
            head = content.read(_HEAD)
            if head.lstrip().startswith(b"{") and member.size <= _JSON_LIMIT:
                _scan_config(image, member.name, head + content.read(), finder, result)
            else:
                joined = io.BufferedReader(_Joined(head, content))
                _scan_layer(image, member.name, joined, finder, result, max_size)


def _scan_config(image: str, name: str, data: bytes, finder: Finder, result: ScanResult) -> None:
    try:
        config: Any = json.loads(data)
    except ValueError:
        config = None
    if config is None:
        texts: Iterator[tuple[str, str]] = iter([("", data.decode("latin-1"))])
    else:
        texts = strings_in(config)
    for path, text in texts:
        for match in finder.search_text(text):
            where = described(path, text) if path else name
            result.findings.append(
                Finding("image", f"{image} config {where}", match.variable, match.encoding)
            )


def _scan_layer(
    image: str, name: str, layer: IO[bytes], finder: Finder, result: ScanResult, max_size: int
) -> None:
    short = name.removeprefix("blobs/sha256/").split("/")[0][:12]
    try:
        with tarfile.open(fileobj=layer, mode="r|*") as files:
            for member in files:
                if not member.isfile():
                    continue
                if member.size > max_size:
                    result.notes.append(
                        f"image {image} layer {short}: /{member.name} skipped, over --max-size"
                    )
                    continue
                content = files.extractfile(member)
                if content is None:
                    continue
                result.scanned["layer files"] += 1
                chunks = iter(lambda f=content: f.read(CHUNK_SIZE), b"")  # type: ignore[misc]
                result.findings.extend(
                    Finding(
                        "image",
                        f"{image} layer {short} /{member.name}",
                        m.variable,
                        m.encoding,
                        m.line,
                    )
                    for m in finder.search(chunks)
                )
    except tarfile.ReadError:
        result.notes.append(f"image {image}: {name} is neither a config nor a layer; not searched")


class _Joined(io.RawIOBase):
    """The bytes already read (to tell a config from a layer) followed by the rest."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        if self._head:
            size = min(len(view), len(self._head))
            view[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._rest.read(len(view))
        view[: len(data)] = data
        return len(data)
