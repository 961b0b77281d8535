"""Our Shamir against the real sops: the data key of a file with three key groups.

sops encrypts with ``key_groups`` and ``shamir_threshold: 2``; gpg opens each
group's share; any two shares, combined by us, must give the key that decrypts
the file's values. The other way round, shares made by our ``split`` (of the
same data key) replace sops' and the real sops must still decrypt the file.
"""

from __future__ import annotations

import base64
import itertools
import os
import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from secure_up.sops import shamir
from tests.conftest import GpgKeys, Sops

pytestmark = [pytest.mark.sops, pytest.mark.gpg]

PLAINTEXT = "password: hunter2\nuser: admin\n"
ENC_VALUE = re.compile(r"ENC\[AES256_GCM,data:(.*?),iv:(.*?),tag:(.*?),type:str\]")


def gpg(keys: GpgKeys, *args: str, stdin: bytes, pass_fds: tuple[int, ...] = ()) -> bytes:
    """gpg in the test keyring; data (shares, keys) travels on stdin, never on the argv."""
    result = subprocess.run(
        ["gpg", "--batch", "--quiet", *args],
        input=stdin,
        capture_output=True,
        env=keys.env,
        pass_fds=pass_fds,
        check=True,
        timeout=60,
    )
    return result.stdout


def decrypt_share(keys: GpgKeys, armored: str, fingerprint: str) -> bytes:
    """One group's share; the passphrase of the protected key goes through a pipe.

    gpg-agent would then cache that passphrase for the whole session, and other
    tests rely on the key staying locked: reloading the agent forgets it.
    """
    if fingerprint != keys.passphrase_fingerprint:
        return gpg(keys, "--decrypt", stdin=armored.encode())
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w") as writer:
        writer.write(keys.passphrase)
    try:
        return gpg(
            keys,
            "--pinentry-mode",
            "loopback",
            "--passphrase-fd",
            str(read_end),
            "--decrypt",
            stdin=armored.encode(),
            pass_fds=(read_end,),
        )
    finally:
        os.close(read_end)
        subprocess.run(["gpgconf", "--reload", "gpg-agent"], env=keys.env, check=True)


@pytest.fixture(scope="module")
def shamir_file(
    sops: Sops, gpg_keys: GpgKeys, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """A YAML file encrypted by sops for three key groups (alice, bob, carol), threshold 2."""
    directory = tmp_path_factory.mktemp("shamir")
    groups = "\n".join(
        f"          - pgp: [{fingerprint}]"
        for fingerprint in [*gpg_keys.fingerprints, gpg_keys.passphrase_fingerprint]
    )
    (directory / ".sops.yaml").write_text(
        textwrap.dedent(
            """\
            creation_rules:
              - shamir_threshold: 2
                key_groups:
            """
        )
        + groups
        + "\n"
    )
    (directory / "secrets.yaml").write_text(PLAINTEXT)
    output = sops.run("encrypt", "secrets.yaml", cwd=directory).stdout
    document: dict[str, Any] = yaml.safe_load(output)
    return document


def group_shares(keys: GpgKeys, document: dict[str, Any]) -> list[bytes]:
    """Each key group's share, opened with gpg, in group order."""
    shares = []
    for group in document["sops"]["key_groups"]:
        (key,) = group["pgp"]
        shares.append(decrypt_share(keys, key["enc"], key["fp"]))
    return shares


def decrypt_value(data_key: bytes, enc: str, path: str) -> str:
    """An ENC[...] value decrypted directly: AES-256-GCM, AAD = the value's path."""
    match = ENC_VALUE.fullmatch(enc)
    assert match is not None
    data, iv, tag = (base64.b64decode(part) for part in match.groups())
    return AESGCM(data_key).decrypt(iv, data + tag, path.encode()).decode()


def test_sops_writes_one_share_per_group_with_x_equal_to_index_plus_one(
    gpg_keys: GpgKeys, shamir_file: dict[str, Any]
) -> None:
    assert shamir_file["sops"]["shamir_threshold"] == 2
    shares = group_shares(gpg_keys, shamir_file)
    assert [len(share) for share in shares] == [33, 33, 33]
    assert [share[-1] for share in shares] == [1, 2, 3]


def test_any_two_sops_shares_combine_to_the_data_key(
    gpg_keys: GpgKeys, shamir_file: dict[str, Any]
) -> None:
    shares = group_shares(gpg_keys, shamir_file)
    keys = {shamir.combine(pair) for pair in itertools.permutations(shares, 2)}
    keys.add(shamir.combine(shares))
    assert len(keys) == 1
    (data_key,) = keys
    assert len(data_key) == 32
    assert decrypt_value(data_key, shamir_file["password"], "password:") == "hunter2"
    assert decrypt_value(data_key, shamir_file["user"], "user:") == "admin"


def test_sops_decrypts_a_file_whose_shares_we_split(
    sops: Sops, gpg_keys: GpgKeys, shamir_file: dict[str, Any], tmp_path: Path
) -> None:
    data_key = shamir.combine(group_shares(gpg_keys, shamir_file)[:2])
    groups = shamir_file["sops"]["key_groups"]
    our_shares = shamir.split(data_key, parts=len(groups), threshold=2)
    for group, share in zip(groups, our_shares, strict=True):
        (key,) = group["pgp"]
        armored = gpg(
            gpg_keys, "--trust-model", "always", "--encrypt", "-a", "-r", key["fp"], stdin=share
        )
        key["enc"] = armored.decode().rstrip("\n")
    rewritten = tmp_path / "secrets.yaml"
    rewritten.write_text(yaml.safe_dump(shamir_file, sort_keys=False))

    assert yaml.safe_load(sops.decrypt(rewritten)) == yaml.safe_load(PLAINTEXT)
