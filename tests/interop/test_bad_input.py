"""Bad input: each case gets a clear error naming the cause and the fix, a non-zero
exit code, and nothing at all on stdout."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import GpgKeys, SecureUp, Sops

pytestmark = [pytest.mark.sops, pytest.mark.gpg]

SECRET = "hunter2-very-secret"
DOC = f"password: {SECRET}\nport: 5432\nuser: admin\nlist:\n  - one\n  - two\n"


@pytest.fixture
def encrypted_yaml(tmp_path: Path, sops: Sops) -> Path:
    plain = tmp_path / "plain.yaml"
    plain.write_text(DOC)
    path = tmp_path / "secrets.yaml"
    path.write_bytes(sops.encrypt(plain))
    plain.unlink()
    return path


def _fails(result: subprocess.CompletedProcess[bytes], code: int | None, *words: str) -> str:
    stderr = result.stderr.decode()
    assert result.returncode != 0, stderr
    if code is not None:
        assert result.returncode == code, stderr
    assert result.stdout == b"", "nothing may reach stdout on an error"
    assert SECRET not in stderr
    assert "Traceback" not in stderr
    assert "fix:" in stderr, f"the error should say what to do next: {stderr}"
    for word in words:
        assert re.search(word, stderr, re.IGNORECASE), (word, stderr)
    return stderr


def _edit(path: Path, change: Callable[[str], str]) -> None:
    text = path.read_text()
    changed = change(text)
    assert changed != text
    path.write_text(changed)


def _enc_field(text: str, key: str, field: str) -> tuple[str, str]:
    match = re.search(rf"{key}: ENC\[AES256_GCM,data:([^,]*),iv:([^,]*),tag:([^,]*),", text)
    assert match
    value = {"data": match.group(1), "iv": match.group(2), "tag": match.group(3)}[field]
    # A middle character: the last ones before "=" padding may only carry unused bits.
    middle = len(value) // 2
    return value, value[:middle] + ("A" if value[middle] != "A" else "B") + value[middle + 1 :]


def test_plaintext_file(tmp_path: Path, secure_up: SecureUp) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text(DOC)
    _fails(secure_up.run("decrypt", str(plain), check=False), 1, "sops metadata", "encrypt")


def test_missing_file(tmp_path: Path, secure_up: SecureUp) -> None:
    _fails(
        secure_up.run("decrypt", str(tmp_path / "nope.yaml"), check=False), 100, "does not exist"
    )


def test_unreadable_path(tmp_path: Path, secure_up: SecureUp, encrypted_yaml: Path) -> None:
    # 2 as in sops (CouldNotReadInputFile); 100 is for a missing file only.
    _fails(secure_up.run("decrypt", str(tmp_path), check=False), 2, "directory")
    if os.geteuid() != 0:
        encrypted_yaml.chmod(0)
        _fails(secure_up.run("decrypt", str(encrypted_yaml), check=False), 2, "permission")


def test_unknown_type(secure_up: SecureUp, encrypted_yaml: Path) -> None:
    _fails(
        secure_up.run("decrypt", "--input-type", "toml", str(encrypted_yaml), check=False),
        2,
        "unknown file type",
    )


def test_truncated_value(secure_up: SecureUp, encrypted_yaml: Path) -> None:
    _edit(encrypted_yaml, lambda t: re.sub(r"(password: ENC\[AES256_GCM,data:[^,]*),.*", r"\1", t))
    _fails(secure_up.run("decrypt", str(encrypted_yaml), check=False), None, "password")


def test_bad_base64(secure_up: SecureUp, encrypted_yaml: Path) -> None:
    _edit(
        encrypted_yaml,
        lambda t: t.replace(
            "password: ENC[AES256_GCM,data:", "password: ENC[AES256_GCM,data:!!", 1
        ),
    )
    _fails(secure_up.run("decrypt", str(encrypted_yaml), check=False), None, "base64", "password")


@pytest.mark.parametrize("field", ["data", "iv", "tag"])
def test_tampered_value_iv_or_tag(secure_up: SecureUp, encrypted_yaml: Path, field: str) -> None:
    old, new = _enc_field(encrypted_yaml.read_text(), "password", field)
    _edit(encrypted_yaml, lambda t: t.replace(old, new, 1))
    _fails(secure_up.run("decrypt", str(encrypted_yaml), check=False), 51, "password")


def test_tampered_mac(secure_up: SecureUp, encrypted_yaml: Path) -> None:
    old, new = _enc_field(encrypted_yaml.read_text(), "mac", "data")
    _edit(encrypted_yaml, lambda t: t.replace(old, new, 1))
    _fails(secure_up.run("decrypt", str(encrypted_yaml), check=False), 51, "MAC")


def test_tampered_lastmodified(secure_up: SecureUp, encrypted_yaml: Path) -> None:
    _edit(encrypted_yaml, lambda t: re.sub(r'lastmodified: "\d{4}', 'lastmodified: "2001', t))
    _fails(secure_up.run("decrypt", str(encrypted_yaml), check=False), 51, "lastmodified")


def test_removed_key(secure_up: SecureUp, sops: Sops, encrypted_yaml: Path) -> None:
    _edit(encrypted_yaml, lambda t: re.sub(r"port: ENC\[[^\]]*\]\n", "", t))
    assert sops.run("decrypt", str(encrypted_yaml), check=False).returncode == 51
    _fails(secure_up.run("decrypt", str(encrypted_yaml), check=False), 51, "MAC mismatch")


def test_swapped_keys(secure_up: SecureUp, encrypted_yaml: Path) -> None:
    text = encrypted_yaml.read_text()
    password = re.search(r"password: (ENC\[[^\]]*\])", text)
    user = re.search(r"user: (ENC\[[^\]]*\])", text)
    assert password
    assert user
    swapped = text.replace(password.group(1), "@@").replace(user.group(1), password.group(1))
    encrypted_yaml.write_text(swapped.replace("@@", user.group(1)))
    _fails(secure_up.run("decrypt", str(encrypted_yaml), check=False), 51)


def test_added_encrypted_key(secure_up: SecureUp, encrypted_yaml: Path) -> None:
    text = encrypted_yaml.read_text()
    user = re.search(r"user: (ENC\[[^\]]*\])", text)
    assert user
    encrypted_yaml.write_text(text.replace("sops:\n", f"user2: {user.group(1)}\nsops:\n", 1))
    _fails(secure_up.run("decrypt", str(encrypted_yaml), check=False), 51, "user2")


def test_added_clear_key(secure_up: SecureUp, encrypted_yaml: Path) -> None:
    _edit(encrypted_yaml, lambda t: t.replace("sops:\n", "injected: value\nsops:\n", 1))
    _fails(secure_up.run("decrypt", str(encrypted_yaml), check=False), 51, "injected")


def test_mac_mismatch_with_ignore_mac_still_decrypts(
    secure_up: SecureUp, encrypted_yaml: Path
) -> None:
    _edit(encrypted_yaml, lambda t: re.sub(r"port: ENC\[[^\]]*\]\n", "", t))
    result = secure_up.run("decrypt", "--ignore-mac", str(encrypted_yaml))
    assert SECRET.encode() in result.stdout


def test_only_keys_secure_up_does_not_handle(
    tmp_path: Path, secure_up: SecureUp, encrypted_yaml: Path
) -> None:
    """GCP KMS, Azure Key Vault, Vault transit and HuaweiCloud KMS: refused, each named."""
    text = encrypted_yaml.read_text()
    start = text.index("    pgp:\n")
    end = text.index("    unencrypted_suffix")
    others = (
        "    gcp_kms:\n        - resource_id: projects/p/locations/global/keyRings/r/cryptoKeys/k\n"
        '          created_at: "2024-01-01T00:00:00Z"\n          enc: CiQA\n'
        "    hckms:\n        - key_id: cn-north-4:0e0e0e0e-0000-0000-0000-000000000000\n"
        '          created_at: "2024-01-01T00:00:00Z"\n          enc: AAAA\n'
        "    azure_kv:\n        - vault_url: https://v.vault.azure.net\n          name: k\n"
        '          version: "1"\n'
        '          created_at: "2024-01-01T00:00:00Z"\n          enc: AAAA\n'
        "    hc_vault:\n        - vault_address: http://127.0.0.1:8200\n"
        "          engine_path: transit\n          key_name: k\n"
        '          created_at: "2024-01-01T00:00:00Z"\n          enc: vault:v1:AAAA\n'
    )
    encrypted_yaml.write_text(text[:start] + text[end:])
    encrypted_yaml.write_text(
        encrypted_yaml.read_text().replace("    lastmodified", others + "    lastmodified", 1)
    )
    result = secure_up.run("decrypt", str(encrypted_yaml), check=False)
    _fails(result, 128, "azure_kv, gcp_kms, hc_vault, hckms", "use sops for those")


def test_no_matching_secret_key(
    tmp_path: Path, secure_up: SecureUp, encrypted_yaml: Path, gpg_keys: GpgKeys
) -> None:
    empty_home = tmp_path / "g"
    empty_home.mkdir(mode=0o700)
    result = secure_up.run(
        "decrypt", str(encrypted_yaml), check=False, env={"GNUPGHOME": str(empty_home)}, timeout=30
    )
    subprocess.run(["gpgconf", "--homedir", str(empty_home), "--kill", "all"], check=False)
    stderr = _fails(result, 128, "no master key")
    assert gpg_keys.fingerprints[0] in stderr, "the error lists the file's recipients"
    assert "secret keys in" in stderr


def test_yaml_alias_bomb(tmp_path: Path, secure_up: SecureUp) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for index in range(1, 9):
        previous = chr(ord("a") + index - 1)
        name = chr(ord("a") + index)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    lines.append("sops:\n    version: 3.11.0")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    _fails(secure_up.run("decrypt", str(bomb), check=False, timeout=30), None, "alias")


def test_huge_file(tmp_path: Path, secure_up: SecureUp) -> None:
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as handle:
        handle.truncate(100 * 1024 * 1024)
    _fails(secure_up.run("decrypt", str(huge), check=False, timeout=30), 100, "MiB")
