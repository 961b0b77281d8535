"""age identities: parsing key text, reading key files, the places and their order, recipients.

Keys are made in-process (pyrage, cryptography); no sops, no gpg. The command of
SOPS_AGE_KEY_CMD is a fake that returns a CompletedProcess, so no process runs.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pyrage
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from secure_up.errors import UsageError
from secure_up.keys.age import (
    MAX_KEY_FILE_SIZE,
    AgeService,
    IdentityError,
    load_identities,
    new_key,
    parse_identities,
    parse_recipient,
    parse_ssh_identity,
    read_key_file,
    same_recipient,
)
from secure_up.keys.interface import KeyContext, KeyUnavailable


def _x25519() -> tuple[str, str]:
    identity = pyrage.x25519.Identity.generate()
    return str(identity), str(identity.to_public())


def _ssh_ed25519() -> tuple[bytes, str]:
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, public.decode()


def _no_command(argv: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[bytes]:
    raise AssertionError("no command should run")


def test_a_key_file_with_comments_blank_lines_and_crlf() -> None:
    secret_a, public_a = _x25519()
    secret_b, public_b = _x25519()
    text = f"# created: today\r\n# public key: {public_a}\r\n{secret_a}\r\n\r\n{secret_b}\n"
    identities = parse_identities(text, "SOPS_AGE_KEY")
    assert [identity.recipient for identity in identities] == [public_a, public_b]
    assert {identity.source for identity in identities} == {"SOPS_AGE_KEY"}


def test_a_bad_line_is_named_by_number_never_quoted() -> None:
    secret, _ = _x25519()
    with pytest.raises(IdentityError) as caught:
        parse_identities(f"{secret}\nnot-a-key-{secret}\n", "SOPS_AGE_KEY_FILE (k.txt)")
    assert "line 2 of SOPS_AGE_KEY_FILE (k.txt)" in str(caught.value)
    assert secret not in str(caught.value)
    assert "AGE-SECRET" not in str(caught.value).replace("AGE-SECRET-KEY-1...", "")


def test_a_damaged_key_is_refused_without_its_text() -> None:
    secret, _ = _x25519()
    damaged = secret[:-3] + ("QQQ" if not secret.endswith("QQQ") else "PPP")
    with pytest.raises(IdentityError) as caught:
        parse_identities(damaged, "SOPS_AGE_KEY")
    assert "line 1 of SOPS_AGE_KEY is a damaged age identity" in str(caught.value)
    assert damaged not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AGE-PLUGIN-YUBIKEY-1QQQQ\n", "plugin identity"),
        ("age-encryption.org/v1\n-> scrypt x 18\n", "passphrase-protected"),
        ("-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n", "unlock"),
    ],
)
def test_identities_secure_up_cannot_use_are_said_so(text: str, expected: str) -> None:
    with pytest.raises(IdentityError, match=expected):
        parse_identities(text, "SOPS_AGE_KEY")


def test_an_ssh_key_names_its_public_key() -> None:
    private, public = _ssh_ed25519()
    identity = parse_ssh_identity(private, "~/.ssh/id_ed25519")
    assert identity.recipient == public
    assert identity.matches(public + " someone@example.test")
    assert "PRIVATE" not in repr(identity)


def test_an_rsa_key_in_pem_format_is_read() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    identity = parse_ssh_identity(private, "~/.ssh/id_rsa")
    assert identity.recipient.startswith("ssh-rsa AAAA")


def test_a_passphrase_protected_ssh_key_is_refused_with_the_fix() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    with pytest.raises(IdentityError, match="passphrase-protected SSH key"):
        parse_ssh_identity(private, "~/.ssh/id_ed25519")


def test_garbage_is_not_an_ssh_key() -> None:
    with pytest.raises(IdentityError, match="not an SSH private key"):
        parse_ssh_identity(b"-----BEGIN OPENSSH PRIVATE KEY-----\nnope\n", "key")


def test_key_files_must_be_small_regular_files(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match="not a regular file"):
        read_key_file(tmp_path, "SOPS_AGE_KEY_FILE (dir)")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(IdentityError, match="not a regular file"):
        read_key_file(fifo, "fifo")  # and it does not hang waiting for a writer
    big = tmp_path / "big"
    big.write_bytes(b"#" * (MAX_KEY_FILE_SIZE + 1))
    with pytest.raises(IdentityError, match="larger than"):
        read_key_file(big, "big")
    with pytest.raises(IdentityError, match="cannot open missing"):
        read_key_file(tmp_path / "nope", "missing")


def test_every_place_is_loaded_in_sops_order(tmp_path: Path) -> None:
    keys = [_x25519() for _ in range(4)]
    key_file = tmp_path / "k.txt"
    key_file.write_text(keys[1][0] + "\n")
    config = tmp_path / "xdg" / "sops" / "age"
    config.mkdir(parents=True)
    (config / "keys.txt").write_text(keys[3][0] + "\n")
    ssh_private, ssh_public = _ssh_ed25519()
    (tmp_path / "home" / ".ssh").mkdir(parents=True)
    (tmp_path / "home" / ".ssh" / "id_ed25519").write_bytes(ssh_private)
    calls: list[list[str]] = []

    def command(argv: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[bytes]:
        calls.append(list(argv))
        assert "SOPS_AGE_KEY" not in env  # the command gets no key it does not need
        return subprocess.CompletedProcess(argv, 0, (keys[2][0] + "\n").encode(), b"")

    environ = {
        "SOPS_AGE_KEY": keys[0][0],
        "SOPS_AGE_KEY_FILE": str(key_file),
        "SOPS_AGE_KEY_CMD": "pass show 'age key'",
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "HOME": str(tmp_path / "home"),
    }
    loaded = load_identities(environ, command)
    assert calls == [["pass", "show", "age key"]]
    assert [identity.recipient for identity in loaded.identities] == [
        *(public for _, public in keys),
        ssh_public,
    ]
    assert loaded.places == [
        "SOPS_AGE_KEY",
        f"SOPS_AGE_KEY_FILE ({key_file})",
        "SOPS_AGE_KEY_CMD",
        str(config / "keys.txt"),
        str(tmp_path / "home" / ".ssh" / "id_ed25519"),
        str(tmp_path / "home" / ".ssh" / "id_rsa"),
    ]
    assert loaded.problems == []


def test_the_default_key_file_is_under_dot_config_without_xdg(tmp_path: Path) -> None:
    secret, public = _x25519()
    config = tmp_path / ".config" / "sops" / "age"
    config.mkdir(parents=True)
    (config / "keys.txt").write_text(secret)
    loaded = load_identities({"HOME": str(tmp_path)}, _no_command)
    assert [identity.recipient for identity in loaded.identities] == [public]


def test_a_failing_place_is_a_problem_not_an_end(tmp_path: Path) -> None:
    secret, public = _x25519()

    def failing(argv: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[bytes]:
        return subprocess.CompletedProcess(argv, 2, secret.encode(), b"some " + secret.encode())

    environ = {
        "SOPS_AGE_KEY_FILE": str(tmp_path / "missing.txt"),
        "SOPS_AGE_KEY_CMD": "get-key",
        "SOPS_AGE_KEY": secret,
        "HOME": str(tmp_path),
    }
    loaded = load_identities(environ, failing)
    assert [identity.recipient for identity in loaded.identities] == [public]
    assert len(loaded.problems) == 2
    assert "SOPS_AGE_KEY_CMD (get-key) exited 2" in loaded.problems[1]
    assert all(secret not in problem for problem in loaded.problems)


def test_the_service_opens_what_it_wraps_and_names_recipients_when_it_cannot(
    tmp_path: Path,
) -> None:
    secret, public = _x25519()
    _, stranger = _x25519()
    with contextlib.ExitStack() as cleanup:
        context = KeyContext({"SOPS_AGE_KEY": secret, "HOME": str(tmp_path)}, False, cleanup)
        service = AgeService(context, _no_command)
        mine, theirs = new_key(public), new_key(stranger)
        service.wrap(mine, b"k" * 32)
        service.wrap(theirs, b"k" * 32)
        assert mine.enc.startswith("-----BEGIN AGE ENCRYPTED FILE-----\n")
        assert mine.enc.endswith("-----END AGE ENCRYPTED FILE-----\n")
        assert service.open(mine) == b"k" * 32
        with pytest.raises(KeyUnavailable, match="none of the age identities"):
            service.open(theirs)
        assert service.identities() == [f"{public} (SOPS_AGE_KEY)"]
        assert service.where().startswith("age identities in SOPS_AGE_KEY, ")
        assert secret not in repr(service) + repr(service.loaded)


def test_recipients() -> None:
    _, public = _x25519()
    _, ssh_public = _ssh_ed25519()
    assert same_recipient(public, public.upper())
    assert same_recipient(ssh_public, f"{ssh_public} me@host")
    assert not same_recipient(public, ssh_public)
    parse_recipient(public)
    parse_recipient(ssh_public)
    with pytest.raises(UsageError, match="not a valid age recipient"):
        parse_recipient(public[:-2] + "qq")
    with pytest.raises(UsageError, match="plugin"):
        parse_recipient("age1yubikey1qqqqqqqq")
    with pytest.raises(UsageError, match="not an age recipient"):
        new_key("ecdsa-sha2-nistp256 AAAA")
    assert new_key(f" {public} ").recipient == public
