"""age keys against the real sops and the real ``age``: both ways, every format, every place.

Keys are made at test time with ``age-keygen`` (X25519) and ``ssh-keygen``
(ed25519, RSA). Each test runs with a home of its own (no ``~/.ssh``, no
``~/.config/sops/age``) unless it puts a key there on purpose, so only the
identities a test names can open a file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import GpgKeys, Sops, require

pytestmark = [pytest.mark.sops, pytest.mark.gpg, pytest.mark.timeout(180)]

PLAINTEXTS = {
    "yaml": b"password: hunter2-yaml\nuser: admin\n",
    "json": b'{\n\t"password": "hunter2-json",\n\t"user": "admin"\n}\n',
    "dotenv": b"PASSWORD=hunter2-dotenv\nUSER=admin\n",
    "ini": b"[db]\npassword = hunter2-ini\nuser = admin\n",
    "binary": b"export PASSWORD='hunter2 binary'\n",
}
SUFFIX = {"yaml": ".yaml", "json": ".json", "dotenv": ".env", "ini": ".ini", "binary": ".bin"}
#: Variables that would make the tester's own age keys count.
AGE_VARIABLES = (
    "SOPS_AGE_KEY",
    "SOPS_AGE_KEY_FILE",
    "SOPS_AGE_KEY_CMD",
    "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
    "XDG_CONFIG_HOME",
)


@dataclass
class AgeKey:
    """A real age or SSH key pair: the recipient, and the private key file."""

    recipient: str
    private: Path
    #: The variable that points sops and secure-up at this key's file.
    variable: str

    @property
    def secret_text(self) -> str:
        return self.private.read_text()

    @property
    def env(self) -> dict[str, str]:
        return {self.variable: str(self.private)}


@dataclass
class AgeKeys:
    x25519: AgeKey
    x25519_other: AgeKey
    ed25519: AgeKey
    rsa: AgeKey

    def of(self, kind: str) -> AgeKey:
        key: AgeKey = getattr(self, kind)
        return key


def _age_keygen(path: Path) -> AgeKey:
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    recipient = subprocess.run(
        ["age-keygen", "-y", str(path)], check=True, capture_output=True, text=True
    ).stdout.strip()
    return AgeKey(recipient, path, "SOPS_AGE_KEY_FILE")


def _ssh_keygen(path: Path, kind: str) -> AgeKey:
    bits = ["-b", "2048"] if kind == "rsa" else []
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, *bits, "-N", "", "-C", "tester@", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    public = " ".join(path.with_suffix(".pub").read_text().split()[:2])
    return AgeKey(public, path, "SOPS_AGE_SSH_PRIVATE_KEY_FILE")


@pytest.fixture(scope="session")
def age_keys(tmp_path_factory: pytest.TempPathFactory) -> AgeKeys:
    for program, package in (("age-keygen", "age"), ("ssh-keygen", "openssh-client")):
        if shutil.which(program) is None:
            require(program, f"install the Debian package {package}")
    directory = tmp_path_factory.mktemp("age-keys")
    return AgeKeys(
        x25519=_age_keygen(directory / "keys.txt"),
        x25519_other=_age_keygen(directory / "other.txt"),
        ed25519=_ssh_keygen(directory / "id_ed25519", "ed25519"),
        rsa=_ssh_keygen(directory / "id_rsa", "rsa"),
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def clean_env(home: Path, gpg_keys: GpgKeys, **extra: str) -> dict[str, str]:
    """The test keyring's environment with no age identity but those in ``extra``."""
    env = gpg_keys.env
    for name in AGE_VARIABLES:
        env.pop(name, None)
    env["HOME"] = str(home)
    env.update(extra)
    return env


def run_sops(
    sops: Sops, *args: str, env: Mapping[str, str], cwd: Path, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    result = subprocess.run(
        [sops.binary, *args],
        capture_output=True,
        cwd=cwd,
        env={**env, "SOPS_DISABLE_VERSION_CHECK": "1"},
        check=False,
        timeout=60,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"sops {' '.join(args)} exited {result.returncode}: {result.stderr!r}")
    return result


def run_secure_up(
    *args: str, env: Mapping[str, str], cwd: Path, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    result = subprocess.run(
        [sys.executable, "-m", "secure_up", *args],
        capture_output=True,
        cwd=cwd,
        env=dict(env),
        check=False,
        timeout=60,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"secure-up {' '.join(args)} exited {result.returncode}: {result.stderr.decode()}"
        )
    return result


def write_plain(directory: Path, file_type: str) -> Path:
    path = directory / f"plain{SUFFIX[file_type]}"
    path.write_bytes(PLAINTEXTS[file_type])
    return path


def sops_type_args(file_type: str) -> list[str]:
    return ["--input-type", file_type, "--output-type", file_type]


def age_entries(path: Path) -> list[dict[str, str]]:
    """The age entries of a sops file of any format, via sops' own JSON rendering of it."""
    text = path.read_text()
    if text.lstrip().startswith("{"):
        metadata = json.loads(text)["sops"]
        return list(metadata.get("age", []))
    if path.suffix in (".env", ".ini"):
        return []  # flat stores: the entries are checked through decryption instead
    metadata = yaml.safe_load(text)["sops"]
    return list(metadata.get("age", []))


# -- both ways, every format and recipient kind ---------------------------------------------------


@pytest.mark.parametrize("kind", ["x25519", "ed25519", "rsa"])
@pytest.mark.parametrize("file_type", list(PLAINTEXTS))
def test_sops_encrypts_to_age_and_secure_up_decrypts(
    sops: Sops, gpg_keys: GpgKeys, age_keys: AgeKeys, home: Path, kind: str, file_type: str
) -> None:
    key = age_keys.of(kind)
    env = clean_env(home, gpg_keys, **key.env)
    plain = write_plain(home, file_type)
    encrypted = home / f"secret{SUFFIX[file_type]}"
    encrypted.write_bytes(
        run_sops(
            sops, "encrypt", "--age", key.recipient, *sops_type_args(file_type), str(plain),
            env=env, cwd=home,
        ).stdout
    )  # fmt: skip
    ours = run_secure_up("decrypt", "--input-type", file_type, str(encrypted), env=env, cwd=home)
    theirs = run_sops(
        sops, "decrypt", *sops_type_args(file_type), str(encrypted), env=env, cwd=home
    )
    assert ours.stdout == theirs.stdout
    assert b"hunter2" in ours.stdout


@pytest.mark.parametrize("kind", ["x25519", "ed25519", "rsa"])
@pytest.mark.parametrize("file_type", list(PLAINTEXTS))
def test_secure_up_encrypts_to_age_and_sops_and_age_decrypt(
    sops: Sops, gpg_keys: GpgKeys, age_keys: AgeKeys, home: Path, kind: str, file_type: str
) -> None:
    key = age_keys.of(kind)
    env = clean_env(home, gpg_keys, **key.env)
    plain = write_plain(home, file_type)
    encrypted = home / f"secret{SUFFIX[file_type]}"
    encrypted.write_bytes(
        run_secure_up(
            "encrypt", "--age", key.recipient, "--input-type", file_type, str(plain),
            env=env, cwd=home,
        ).stdout
    )  # fmt: skip
    theirs = run_sops(
        sops, "decrypt", *sops_type_args(file_type), str(encrypted), env=env, cwd=home
    )
    ours = run_secure_up("decrypt", "--input-type", file_type, str(encrypted), env=env, cwd=home)
    assert theirs.stdout == ours.stdout
    assert b"hunter2" in theirs.stdout
    for entry in age_entries(encrypted):
        # The armor as sops writes it, and the real age opens it: the 32-byte data key.
        assert entry["recipient"] == key.recipient
        lines = entry["enc"].splitlines()
        assert lines[0] == "-----BEGIN AGE ENCRYPTED FILE-----"
        assert lines[-1] == "-----END AGE ENCRYPTED FILE-----"
        assert entry["enc"].endswith("\n")
        assert all(len(line) == 64 for line in lines[1:-2])
        opened = subprocess.run(
            ["age", "--decrypt", "-i", str(key.private)],
            input=entry["enc"].encode(),
            capture_output=True,
            check=True,
        )
        assert len(opened.stdout) == 32


# -- key groups mixing age and PGP --------------------------------------------------------------


def _mixed_config(directory: Path, gpg_keys: GpgKeys, age_keys: AgeKeys) -> None:
    alice = gpg_keys.fingerprints[0]
    (directory / ".sops.yaml").write_text(
        textwrap.dedent(
            f"""\
            creation_rules:
              - path_regex: .*
                shamir_threshold: 2
                key_groups:
                  - pgp: [{alice}]
                    age: [{age_keys.x25519.recipient}]
                  - age: [{age_keys.x25519_other.recipient}]
                  - age: ["{age_keys.ed25519.recipient}"]
            """
        )
    )


@pytest.mark.parametrize("writer", ["sops", "secure-up"])
def test_shamir_key_groups_mixing_age_and_pgp(
    sops: Sops, gpg_keys: GpgKeys, age_keys: AgeKeys, home: Path, tmp_path: Path, writer: str
) -> None:
    _mixed_config(home, gpg_keys, age_keys)
    plain = write_plain(home, "yaml")
    env = clean_env(home, gpg_keys)
    if writer == "sops":
        output = run_sops(sops, "encrypt", str(plain), env=env, cwd=home).stdout
    else:
        output = run_secure_up("encrypt", str(plain), env=env, cwd=home).stdout
    encrypted = home / "secret.yaml"
    encrypted.write_bytes(output)
    assert len(yaml.safe_load(output)["sops"]["key_groups"]) == 3
    no_gpg = {"GNUPGHOME": str(tmp_path / "empty-gnupg")}
    (tmp_path / "empty-gnupg").mkdir(mode=0o700)
    openers = {
        "pgp + age": {"SOPS_AGE_KEY": age_keys.x25519_other.secret_text},
        "age + ssh": {
            "SOPS_AGE_KEY": age_keys.x25519_other.secret_text,
            **age_keys.ed25519.env,
            **no_gpg,
        },
        "age (group 1) + ssh": {**age_keys.x25519.env, **age_keys.ed25519.env, **no_gpg},
    }
    for extra in openers.values():
        both = clean_env(home, gpg_keys, **extra)
        ours = run_secure_up("decrypt", str(encrypted), env=both, cwd=home)
        theirs = run_sops(sops, "decrypt", str(encrypted), env=both, cwd=home)
        assert ours.stdout == theirs.stdout == PLAINTEXTS["yaml"]
    # One group is not enough: exit 128, naming the recipients.
    one = clean_env(home, gpg_keys, **age_keys.ed25519.env, **no_gpg)
    result = run_secure_up("decrypt", str(encrypted), env=one, cwd=home, check=False)
    assert result.returncode == 128
    stderr = result.stderr.decode()
    assert "1 of the 2 key groups" in stderr
    assert age_keys.x25519.recipient in stderr
    assert age_keys.x25519_other.recipient in stderr


# -- where identities are found -----------------------------------------------------------------


def _place_env(place: str, age_keys: AgeKeys, home: Path) -> dict[str, str]:
    """The environment (and files in ``home``) that put the X25519 or SSH key in ``place``."""
    x25519, ed25519, rsa = age_keys.x25519, age_keys.ed25519, age_keys.rsa
    if place == "SOPS_AGE_KEY":
        return {"SOPS_AGE_KEY": x25519.secret_text}
    if place == "SOPS_AGE_KEY_FILE":
        return {"SOPS_AGE_KEY_FILE": str(x25519.private)}
    if place == "SOPS_AGE_KEY_CMD":
        return {"SOPS_AGE_KEY_CMD": f"cat '{x25519.private}'"}
    if place == "XDG_CONFIG_HOME":
        config = home / "xdg"
        (config / "sops" / "age").mkdir(parents=True)
        shutil.copy(x25519.private, config / "sops" / "age" / "keys.txt")
        return {"XDG_CONFIG_HOME": str(config)}
    if place == "~/.config":
        (home / ".config" / "sops" / "age").mkdir(parents=True)
        shutil.copy(x25519.private, home / ".config" / "sops" / "age" / "keys.txt")
        return {}
    if place == "SOPS_AGE_SSH_PRIVATE_KEY_FILE":
        return ed25519.env
    (home / ".ssh").mkdir(mode=0o700)
    source = ed25519 if place == "~/.ssh/id_ed25519" else rsa
    shutil.copy(source.private, home / ".ssh" / source.private.name)
    return {}


PLACES = [
    "SOPS_AGE_KEY",
    "SOPS_AGE_KEY_FILE",
    "SOPS_AGE_KEY_CMD",
    "XDG_CONFIG_HOME",
    "~/.config",
    "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
    "~/.ssh/id_ed25519",
    "~/.ssh/id_rsa",
]


@pytest.mark.parametrize("place", PLACES)
def test_an_identity_is_found_in_each_place_sops_looks(
    sops: Sops, gpg_keys: GpgKeys, age_keys: AgeKeys, home: Path, place: str
) -> None:
    recipients = ",".join(k.recipient for k in (age_keys.x25519, age_keys.ed25519, age_keys.rsa))
    plain = write_plain(home, "yaml")
    encrypted = home / "secret.yaml"
    writer = clean_env(home, gpg_keys)
    encrypted.write_bytes(
        run_sops(sops, "encrypt", "--age", recipients, str(plain), env=writer, cwd=home).stdout
    )
    # Only one of the three recipients is reachable, from one place.
    env = clean_env(home, gpg_keys, **_place_env(place, age_keys, home))
    result = run_secure_up("decrypt", str(encrypted), env=env, cwd=home)
    assert result.stdout == PLAINTEXTS["yaml"]
    assert run_sops(sops, "decrypt", str(encrypted), env=env, cwd=home).stdout == result.stdout


def test_a_wrong_identity_exits_128_naming_the_recipients_and_the_places(
    sops: Sops, gpg_keys: GpgKeys, age_keys: AgeKeys, home: Path
) -> None:
    plain = write_plain(home, "yaml")
    encrypted = home / "secret.yaml"
    env = clean_env(home, gpg_keys)
    recipients = f"{age_keys.x25519.recipient},{age_keys.ed25519.recipient}"
    encrypted.write_bytes(
        run_sops(sops, "encrypt", "--age", recipients, str(plain), env=env, cwd=home).stdout
    )
    key_file = home / "wrong.txt"
    shutil.copy(age_keys.x25519_other.private, key_file)
    wrong = clean_env(
        home,
        gpg_keys,
        SOPS_AGE_KEY=age_keys.x25519_other.secret_text,
        SOPS_AGE_KEY_FILE=str(key_file),
        SOPS_AGE_KEY_CMD=f"cat '{key_file}'",
        SOPS_AGE_SSH_PRIVATE_KEY_FILE=str(age_keys.rsa.private),
    )
    result = run_secure_up("decrypt", str(encrypted), env=wrong, cwd=home, check=False)
    assert result.returncode == 128
    assert run_sops(sops, "decrypt", str(encrypted), env=wrong, cwd=home, check=False).returncode
    stderr = result.stderr.decode()
    assert age_keys.x25519.recipient in stderr
    assert age_keys.ed25519.recipient in stderr
    assert age_keys.x25519_other.recipient in stderr  # what we hold, and where
    assert "AGE-SECRET-KEY" not in stderr
    # The places, in sops' order.
    places = [
        "SOPS_AGE_KEY,",
        f"SOPS_AGE_KEY_FILE ({key_file})",
        "SOPS_AGE_KEY_CMD,",
        str(home / ".config" / "sops" / "age" / "keys.txt"),
        f"SOPS_AGE_SSH_PRIVATE_KEY_FILE ({age_keys.rsa.private})",
        str(home / ".ssh" / "id_ed25519"),
        str(home / ".ssh" / "id_rsa"),
    ]
    where = next(line for line in stderr.splitlines() if line.startswith("age identities in"))
    positions = [where.index(place) for place in places]
    assert positions == sorted(positions)


def test_a_broken_key_command_is_named_without_its_output(
    gpg_keys: GpgKeys, age_keys: AgeKeys, home: Path
) -> None:
    plain = write_plain(home, "yaml")
    env = clean_env(home, gpg_keys, **age_keys.x25519.env)
    output = run_secure_up(
        "encrypt", "--age", age_keys.x25519.recipient, str(plain), env=env, cwd=home
    )
    encrypted = home / "secret.yaml"
    encrypted.write_bytes(output.stdout)
    command = f"sh -c 'cat \"{age_keys.x25519_other.private}\"; echo leaked-output; exit 3'"
    broken = clean_env(home, gpg_keys, SOPS_AGE_KEY_CMD=command)
    result = run_secure_up("decrypt", str(encrypted), env=broken, cwd=home, check=False)
    assert result.returncode == 128
    stderr = result.stderr.decode()
    assert "SOPS_AGE_KEY_CMD (sh) exited 3" in stderr
    assert "leaked-output" not in stderr
    assert "AGE-SECRET-KEY" not in stderr


# -- rotate and updatekeys ------------------------------------------------------------------------


def test_rotate_adds_and_removes_age_recipients_for_the_real_sops(
    sops: Sops, gpg_keys: GpgKeys, age_keys: AgeKeys, home: Path, tmp_path: Path
) -> None:
    alice = gpg_keys.fingerprints[0]
    plain = write_plain(home, "yaml")
    env = clean_env(home, gpg_keys)
    encrypted = home / "secret.yaml"
    encrypted.write_bytes(
        run_secure_up("encrypt", "--pgp", alice, str(plain), env=env, cwd=home).stdout
    )
    x25519, other = age_keys.x25519, age_keys.x25519_other
    run_secure_up("rotate", "--add-age", x25519.recipient, str(encrypted), env=env, cwd=home)
    (tmp_path / "empty-gnupg").mkdir(mode=0o700)
    only_x25519 = clean_env(home, gpg_keys, GNUPGHOME=str(tmp_path / "empty-gnupg"), **x25519.env)
    assert (
        run_sops(sops, "decrypt", str(encrypted), env=only_x25519, cwd=home).stdout
        == (PLAINTEXTS["yaml"])
    )
    run_secure_up(
        "rotate", "--add-age", other.recipient, "--rm-age", x25519.recipient, "--rm-pgp", alice,
        str(encrypted), env=env, cwd=home,
    )  # fmt: skip
    assert [entry["recipient"] for entry in age_entries(encrypted)] == [other.recipient]
    refused = run_sops(sops, "decrypt", str(encrypted), env=only_x25519, cwd=home, check=False)
    assert refused.returncode == 128
    only_other = clean_env(home, gpg_keys, GNUPGHOME=str(tmp_path / "empty-gnupg"), **other.env)
    assert (
        run_sops(sops, "decrypt", str(encrypted), env=only_other, cwd=home).stdout
        == (PLAINTEXTS["yaml"])
    )


def test_updatekeys_wraps_the_data_key_for_age_recipients_the_real_sops_reads(
    sops: Sops, gpg_keys: GpgKeys, age_keys: AgeKeys, home: Path, tmp_path: Path
) -> None:
    alice = gpg_keys.fingerprints[0]
    config = home / ".sops.yaml"
    config.write_text(f"creation_rules:\n  - pgp: {alice}\n")
    plain = write_plain(home, "yaml")
    env = clean_env(home, gpg_keys)
    encrypted = home / "secret.yaml"
    encrypted.write_bytes(run_secure_up("encrypt", str(plain), env=env, cwd=home).stdout)
    config.write_text(
        f"creation_rules:\n  - pgp: {alice}\n    age: {age_keys.x25519.recipient},"
        f"{age_keys.rsa.recipient}\n"
    )
    run_secure_up("updatekeys", "-y", str(encrypted), env=env, cwd=home)
    (tmp_path / "empty-gnupg").mkdir(mode=0o700)
    for key in (age_keys.x25519, age_keys.rsa):
        only = clean_env(home, gpg_keys, GNUPGHOME=str(tmp_path / "empty-gnupg"), **key.env)
        result = run_sops(sops, "decrypt", str(encrypted), env=only, cwd=home)
        assert result.stdout == PLAINTEXTS["yaml"]
    # And sops' own updatekeys sees nothing left to do.
    result = run_sops(sops, "updatekeys", "-y", str(encrypted), env=env, cwd=home)
    assert b"already up to date" in result.stderr or b"no changes" in result.stderr.lower()


# -- CI: SOPS_AGE_KEY is all it takes, and the child never sees it ------------------------------


def test_run_opens_an_age_file_and_never_hands_the_key_on(
    gpg_keys: GpgKeys, age_keys: AgeKeys, home: Path, tmp_path: Path
) -> None:
    plain = home / "environment.secrets"
    plain.write_bytes(b"PASSWORD=hunter2-run\n")
    env = clean_env(home, gpg_keys)
    encrypted = home / "secret.env"
    encrypted.write_bytes(
        run_secure_up(
            "encrypt", "--age", age_keys.x25519.recipient, "--input-type", "dotenv", str(plain),
            env=env, cwd=home,
        ).stdout
    )  # fmt: skip
    (tmp_path / "empty-gnupg").mkdir(mode=0o700)
    ci = clean_env(
        home,
        gpg_keys,
        GNUPGHOME=str(tmp_path / "empty-gnupg"),
        SOPS_AGE_KEY=age_keys.x25519.secret_text,
        SOPS_AGE_KEY_FILE=str(age_keys.x25519.private),
        SOPS_AGE_KEY_CMD="true",
    )
    names = "import json, os; print(json.dumps(sorted(os.environ)))"
    result = run_secure_up(
        "run", "--no-mask", "-s", str(encrypted), "--", sys.executable, "-c", names,
        env=ci, cwd=home,
    )  # fmt: skip
    seen = json.loads(result.stdout)
    assert "PASSWORD" in seen
    assert not [name for name in seen if name.startswith("SOPS_AGE_KEY")]
    # Nothing to clean up: no keyring, no agent was made.
    assert sorted(os.listdir(tmp_path / "empty-gnupg")) == []


def test_doctor_checks_an_age_only_file_without_gpg(
    gpg_keys: GpgKeys, age_keys: AgeKeys, home: Path
) -> None:
    plain = write_plain(home, "yaml")
    env = clean_env(home, gpg_keys)
    encrypted = home / "secret.yaml"
    encrypted.write_bytes(
        run_secure_up(
            "encrypt", "--age", age_keys.ed25519.recipient, str(plain), env=env, cwd=home
        ).stdout
    )
    no_gpg = clean_env(home, gpg_keys, SOPS_GPG_EXEC="/nonexistent/gpg", **age_keys.ed25519.env)
    result = run_secure_up(
        "doctor", "--json", "-s", str(encrypted), env=no_gpg, cwd=home, check=False
    )
    checks = {check["item"]: check for check in json.loads(result.stdout)}
    assert "gpg" not in checks
    assert checks["age identities"]["ok"]
    assert age_keys.ed25519.recipient in checks["age identities"]["detail"]
    opened = checks[f"secrets file {encrypted}"]
    assert opened["ok"], opened
    assert age_keys.ed25519.recipient in opened["detail"]
    assert "SOPS_AGE_SSH_PRIVATE_KEY_FILE" in opened["detail"]
    assert "hunter2" not in result.stdout.decode()


def test_secure_up_mixes_pgp_and_age_in_one_group_from_the_command_line(
    sops: Sops, gpg_keys: GpgKeys, age_keys: AgeKeys, home: Path, tmp_path: Path
) -> None:
    alice = gpg_keys.fingerprints[0]
    plain = write_plain(home, "json")
    env = clean_env(home, gpg_keys)
    encrypted = home / "secret.json"
    encrypted.write_bytes(
        run_secure_up(
            "encrypt", "--pgp", alice, "--age", age_keys.x25519.recipient, str(plain),
            env=env, cwd=home,
        ).stdout
    )  # fmt: skip
    assert run_sops(sops, "decrypt", str(encrypted), env=env, cwd=home).stdout == PLAINTEXTS["json"]
    (tmp_path / "empty-gnupg").mkdir(mode=0o700)
    age_only = clean_env(
        home, gpg_keys, GNUPGHOME=str(tmp_path / "empty-gnupg"), **age_keys.x25519.env
    )
    assert (
        run_sops(sops, "decrypt", str(encrypted), env=age_only, cwd=home).stdout
        == (PLAINTEXTS["json"])
    )
    # CI with age only: no gpg on the machine at all, and the PGP entry comes first.
    no_gpg = clean_env(home, gpg_keys, SOPS_GPG_EXEC="/nonexistent/gpg", **age_keys.x25519.env)
    ours = run_secure_up("decrypt", str(encrypted), env=no_gpg, cwd=home)
    assert ours.stdout == PLAINTEXTS["json"]
