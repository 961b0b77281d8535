"""``secure-up scan --images --containers`` on a real engine: a value in an image's ENV,
one in a file of an image layer, one in a running container's environment.

Images are imported from tiny tarballs (no registry); the container runs on the
host network. Everything made here has a unique name and is removed afterwards.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import GpgKeys
from tests.docker.conftest import docker

pytestmark = [pytest.mark.docker, pytest.mark.gpg]

DBPASS = "container-env-secret-41"
TOKEN = "image-env-token-93"
CONF = "layer-file-password-77"


def _import(tag: str, files: dict[str, str], *changes: str) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    argv = ["docker", "import"]
    for change in changes:
        argv += ["--change", change]
    subprocess.run([*argv, "-", tag], input=buffer.getvalue(), check=True, capture_output=True)


@pytest.fixture
def project(tmp_path: Path, gpg_keys: GpgKeys, busybox_image: str) -> Iterator[Path]:
    suffix = uuid.uuid4().hex[:8]
    env_image, file_image = f"local/scan-env-{suffix}:1", f"local/scan-file-{suffix}:1"
    _import(env_image, {"etc/readme": "nothing\n"}, f"ENV TOKEN={TOKEN}")
    _import(file_image, {"etc/app.conf": f"[db]\npassword = {CONF}\n"})
    directory = tmp_path / f"scan{suffix}"
    directory.mkdir()
    (directory / "compose.yaml").write_text(
        f"""services:
  app:
    image: {busybox_image}
    network_mode: host
    environment:
      DBPASS: ${{DBPASS}}
    command: ["sleep", "600"]
    stop_signal: SIGKILL
  envimg:
    image: {env_image}
  fileimg:
    image: {file_image}
"""
    )
    (directory / "secrets").mkdir()
    plain = directory / "secrets" / "environment.secrets"
    plain.write_text(f"DBPASS={DBPASS}\nTOKEN={TOKEN}\nCONF={CONF}\n")
    run(gpg_keys, directory, "encrypt", "-i", "--pgp", gpg_keys.fingerprints[0], str(plain))
    try:
        yield directory
    finally:
        label = f"label=com.docker.compose.project={directory.name}"
        ids = docker("ps", "-aq", "--filter", label).split()
        if ids:
            docker("rm", "-f", *ids)
        docker("image", "rm", env_image, file_image, check=False)


def run(
    keys: GpgKeys, cwd: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    env = {**keys.env, "COMPOSE_PROJECT_NAME": cwd.name}
    result = subprocess.run(
        [sys.executable, "-m", "secure_up", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}: {result.stderr.decode()}")
    return result


def test_images_and_containers(project: Path, gpg_keys: GpgKeys) -> None:
    run(gpg_keys, project, "up", "app")
    result = run(gpg_keys, project, "scan", "--images", "--containers", "--json", check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output.decode()
    for value in (DBPASS, TOKEN, CONF):
        assert value.encode() not in output
    findings = json.loads(result.stdout)["findings"]
    by_variable = {(f["place"], f["variable"]): f["location"] for f in findings}
    assert "config config.Env[0] (TOKEN=)" in by_variable[("image", "TOKEN")]
    assert by_variable[("image", "CONF")].endswith("/etc/app.conf")
    assert "layer" in by_variable[("image", "CONF")]
    assert "Config.Env" in by_variable[("container", "DBPASS")]
    assert "(DBPASS=)" in by_variable[("container", "DBPASS")]
