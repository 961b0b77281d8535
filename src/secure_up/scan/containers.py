"""The project's containers: what ``docker inspect`` shows (environment, labels, mounts, command).

This is the exposure the preflight warns about before a start, checked on the
containers that actually run (or ran): anyone who can talk to the Docker engine
reads these fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from secure_up.scan.finder import Finder, described, strings_in
from secure_up.scan.report import Finding, ScanResult
from secure_up.system.process import capture

DOCKER_TIMEOUT = 60.0


def project_name(
    explicit: str | None, environ: Mapping[str, str], compose_files: Sequence[Path]
) -> str:
    """Compose's project name: -p, else COMPOSE_PROJECT_NAME, else the project directory's name."""
    name = explicit or environ.get("COMPOSE_PROJECT_NAME") or ""
    if not name and compose_files:
        name = compose_files[0].absolute().parent.name
    return re.sub(r"[^a-z0-9_-]", "", name.lower())


def scan_containers(project: str, finder: Finder, environ: Mapping[str, str]) -> ScanResult:
    result = ScanResult(scanned={"containers": 0})
    label = f"label=com.docker.compose.project={project}"
    listed = capture(
        ["docker", "ps", "-aq", "--filter", label], env=environ, timeout=DOCKER_TIMEOUT
    )
    if listed.returncode != 0:
        result.notes.append(f"containers: not scanned ({_reason(listed.stderr)})")
        return result
    ids = listed.stdout.decode().split()
    if not ids:
        result.notes.append(f"containers: none of project {project!r} found")
        return result
    inspected = capture(["docker", "inspect", *ids], env=environ, timeout=DOCKER_TIMEOUT)
    if inspected.returncode != 0:
        result.notes.append(f"containers: not inspected ({_reason(inspected.stderr)})")
        return result
    for container in json.loads(inspected.stdout):
        result.scanned["containers"] += 1
        name = str(container.get("Name", "")).lstrip("/") or str(container.get("Id", ""))[:12]
        for path, text in strings_in(container):
            result.findings.extend(
                Finding("container", f"{name} {described(path, text)}", m.variable, m.encoding)
                for m in finder.search_text(text)
            )
    return result


def _reason(stderr: bytes) -> str:
    lines = stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "docker failed"
