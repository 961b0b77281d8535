"""AWS KMS keys against a real KMS API on loopback (moto's server), with the real sops.

Both tools reach the emulator through the standard AWS environment
(``AWS_ENDPOINT_URL``, credentials in ``AWS_ACCESS_KEY_ID``...), so these tests
also show that secure-up reads the same variables sops does.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SecureUp, Sops, require

pytestmark = [pytest.mark.sops, pytest.mark.gpg]

SECRET = "kms-protected-value-42"
DOC = f"password: {SECRET}\nuser: admin\n"
ROLE = "arn:aws:iam::123456789012:role/sops-decrypt"
#: Fake credentials for the emulator; a real secret would never be written in a test.
ACCESS_KEY_ID = "AKIATESTINGEXAMPLE01"
SECRET_ACCESS_KEY = "testing-secret-access-key-do-not-print"


@dataclass
class Kms:
    """A KMS API emulator on 127.0.0.1 and the environment that points AWS clients at it."""

    endpoint: str
    home: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_SESSION_TOKEN": "",
            "AWS_PROFILE": "",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            # Never ask the network for an instance role, nor read a developer's ~/.aws.
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(self.home / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.home / "credentials"),
        }

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )

    def new_key(self) -> str:
        arn: str = self.client("kms").create_key()["KeyMetadata"]["Arn"]
        return arn

    def assumed_roles(self) -> list[dict[str, Any]]:
        """The STS sessions the emulator has handed out (its introspection API)."""
        with urllib.request.urlopen(f"{self.endpoint}/moto-api/data.json", timeout=10) as answer:  # noqa: S310 - loopback
            data = json.load(answer)
        roles: list[dict[str, Any]] = data.get("sts", {}).get("AssumedRole", [])
        return roles


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def kms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kms]:
    """moto's server on a free loopback port, ended by its PID when the session ends."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        require("moto", "pip install 'moto[server]'")
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()  # noqa: S310
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto's server did not start: {log.read_text()}")
                time.sleep(0.2)
        yield Kms(endpoint, tmp_path_factory.mktemp("aws-home"))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    path = tmp_path / "secrets.yaml"
    path.write_text(DOC)
    return path


def _sops_encrypt(sops: Sops, kms: Kms, plain: Path, *options: str) -> Path:
    encrypted = plain.with_name("secrets.enc.yaml")
    result = sops.run("encrypt", *options, str(plain), cwd=plain.parent, env=kms.env)
    encrypted.write_bytes(result.stdout)
    return encrypted


def _secure_up_encrypt(secure_up: SecureUp, kms: Kms, plain: Path, *options: str) -> Path:
    encrypted = plain.with_name("secrets.enc.yaml")
    result = secure_up.run("encrypt", *options, str(plain), cwd=plain.parent, env=kms.env)
    encrypted.write_bytes(result.stdout)
    return encrypted


def test_sops_encrypts_with_kms_and_secure_up_decrypts(
    sops: Sops, secure_up: SecureUp, kms: Kms, plain: Path
) -> None:
    encrypted = _sops_encrypt(sops, kms, plain, "--kms", kms.new_key())
    assert "kms:" in encrypted.read_text()
    result = secure_up.run("decrypt", str(encrypted), env=kms.env)
    assert result.stdout.decode() == DOC


def test_secure_up_encrypts_with_kms_and_sops_decrypts(
    sops: Sops, secure_up: SecureUp, kms: Kms, plain: Path
) -> None:
    arn = kms.new_key()
    encrypted = _secure_up_encrypt(secure_up, kms, plain, "--kms", arn)
    text = encrypted.read_text()
    assert f"arn: {arn}" in text
    assert SECRET not in text
    assert sops.run("decrypt", str(encrypted), env=kms.env).stdout.decode() == DOC


def test_encryption_contexts_both_ways(
    sops: Sops, secure_up: SecureUp, kms: Kms, plain: Path
) -> None:
    arn = kms.new_key()
    by_sops = _sops_encrypt(sops, kms, plain, "--kms", arn, "--encryption-context", "app:x,env:y")
    assert secure_up.run("decrypt", str(by_sops), env=kms.env).stdout.decode() == DOC

    by_us = _secure_up_encrypt(
        secure_up, kms, plain, "--kms", arn, "--encryption-context", "app:x,env:y"
    )
    assert "app: x" in by_us.read_text()
    assert sops.run("decrypt", str(by_us), env=kms.env).stdout.decode() == DOC

    # The context is bound to the wrapped key: another one cannot open it.
    by_us.write_text(by_us.read_text().replace("app: x", "app: z"))
    result = secure_up.run("decrypt", str(by_us), env=kms.env, check=False)
    assert result.returncode == 128
    assert "another encryption context" in result.stderr.decode()


def test_a_role_is_assumed_through_sts_as_sops_does(
    sops: Sops, secure_up: SecureUp, kms: Kms, plain: Path
) -> None:
    arn = kms.new_key()
    by_sops = _sops_encrypt(sops, kms, plain, "--kms", f"{arn}+{ROLE}")
    assert f"role: {ROLE}" in by_sops.read_text()
    before = len(kms.assumed_roles())
    assert secure_up.run("decrypt", str(by_sops), env=kms.env).stdout.decode() == DOC
    sessions = kms.assumed_roles()[before:]
    assert [session["role_arn"] for session in sessions] == [ROLE]
    # The session name sops uses, so a trust policy written for sops holds for us.
    assert sessions[0]["session_name"].startswith("sops@")

    by_us = _secure_up_encrypt(secure_up, kms, plain, "--kms", f"{arn}+{ROLE}")
    assert f"role: {ROLE}" in by_us.read_text()
    assert sops.run("decrypt", str(by_us), env=kms.env).stdout.decode() == DOC


def test_kms_keys_of_a_creation_rule(
    sops: Sops, secure_up: SecureUp, kms: Kms, plain: Path
) -> None:
    arn = kms.new_key()
    (plain.parent / ".sops.yaml").write_text(
        "creation_rules:\n"
        "  - key_groups:\n"
        "      - kms:\n"
        f"          - arn: {arn}\n"
        f"            role: {ROLE}\n"
        "            context: {team: payments}\n"
    )
    encrypted = _secure_up_encrypt(secure_up, kms, plain)
    text = encrypted.read_text()
    assert f"role: {ROLE}" in text
    assert "team: payments" in text
    assert sops.run("decrypt", str(encrypted), env=kms.env).stdout.decode() == DOC


def test_rotate_adds_and_removes_kms_keys(
    sops: Sops, secure_up: SecureUp, kms: Kms, plain: Path
) -> None:
    first, second = kms.new_key(), kms.new_key()
    encrypted = _secure_up_encrypt(secure_up, kms, plain, "--kms", first)
    secure_up.run("rotate", "--add-kms", second, "--rm-kms", first, str(encrypted), env=kms.env)
    text = encrypted.read_text()
    assert second in text
    assert first not in text
    assert sops.run("decrypt", str(encrypted), env=kms.env).stdout.decode() == DOC


def test_without_credentials_the_error_says_what_to_set(
    sops: Sops, secure_up: SecureUp, kms: Kms, plain: Path
) -> None:
    encrypted = _sops_encrypt(sops, kms, plain, "--kms", kms.new_key())
    no_credentials = {**kms.env, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    result = secure_up.run("decrypt", str(encrypted), env=no_credentials, check=False)
    stderr = result.stderr.decode()
    assert result.returncode == 128, stderr
    assert result.stdout == b""
    assert "no AWS credentials" in stderr
    assert "AWS_ACCESS_KEY_ID" in stderr
    assert "AWS_PROFILE" in stderr
    assert "Traceback" not in stderr

    # Half the credentials: the missing one is named, the given one never shown.
    half = {**kms.env, "AWS_SECRET_ACCESS_KEY": ""}
    result = secure_up.run("decrypt", str(encrypted), env=half, check=False)
    stderr = result.stderr.decode()
    assert result.returncode == 128, stderr
    assert "AWS_SECRET_ACCESS_KEY is not set" in stderr
    assert ACCESS_KEY_ID not in stderr
    assert SECRET not in stderr


def test_a_key_the_account_does_not_have_is_named(
    secure_up: SecureUp, kms: Kms, plain: Path
) -> None:
    missing = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    result = secure_up.run("encrypt", "--kms", missing, str(plain), env=kms.env, check=False)
    stderr = result.stderr.decode()
    assert result.returncode == 128, stderr
    assert "no such key" in stderr
    assert SECRET_ACCESS_KEY not in stderr


def test_doctor_says_where_aws_credentials_come_from_without_showing_them(
    secure_up: SecureUp, kms: Kms, tmp_path: Path
) -> None:
    # Other items (a Docker engine) may fail here; only the AWS line matters.
    result = secure_up.run("doctor", cwd=tmp_path, env=kms.env, check=False, timeout=120)
    output = result.stdout.decode() + result.stderr.decode()
    [line] = [line for line in output.splitlines() if "AWS credentials" in line]
    assert line.startswith("OK")
    assert "AWS_ACCESS_KEY_ID" in line
    assert ACCESS_KEY_ID not in output
    assert SECRET_ACCESS_KEY not in output


def test_updatekeys_follows_a_kms_rule(
    sops: Sops, secure_up: SecureUp, kms: Kms, plain: Path
) -> None:
    first, second = kms.new_key(), kms.new_key()
    encrypted = _secure_up_encrypt(secure_up, kms, plain, "--kms", first)
    (plain.parent / ".sops.yaml").write_text(
        f"creation_rules:\n  - kms: {second}\n    aws_profile: ''\n"
    )
    secure_up.run("updatekeys", "-y", str(encrypted), cwd=plain.parent, env=kms.env)
    text = encrypted.read_text()
    assert second in text
    assert first not in text
    assert sops.run("decrypt", str(encrypted), env=kms.env).stdout.decode() == DOC
