"""``.sops.yaml`` rule choice against the real sops: the same recipients, threshold and rule."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from secure_up.errors import ConfigError
from secure_up.sopsfile.config import CreationRule, find_config, load_config
from tests.conftest import GpgKeys, SecureUp, Sops


def write_config(directory: Path, text: str) -> Path:
    path = directory / ".sops.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def sops_choice(output: bytes) -> tuple[list[list[str]], int, Any]:
    """The recipients (fingerprints by key group), threshold and rule sops wrote."""
    metadata = yaml.safe_load(output)["sops"]
    if "key_groups" in metadata:
        groups = [[key["fp"].upper() for key in group["pgp"]] for group in metadata["key_groups"]]
    else:  # sops writes fingerprints as given; we upper-case them
        groups = [[key["fp"].upper() for key in metadata["pgp"]]]
    rules = [
        (name, metadata[name])
        for name in ("encrypted_regex", "unencrypted_suffix")
        if name in metadata
    ]
    return groups, metadata.get("shamir_threshold", 0), rules


def our_choice(rule: CreationRule) -> tuple[list[list[str]], int, Any]:
    rules = [rule.encryption_rule or ("unencrypted_suffix", "_unencrypted")]
    return [group.pgp for group in rule.key_groups], rule.shamir_threshold, rules


@pytest.mark.sops
@pytest.mark.gpg
class TestAgainstRealSops:
    @pytest.fixture
    def repo(self, tmp_path: Path, gpg_keys: GpgKeys) -> Path:
        alice, bob = gpg_keys.fingerprints
        carol = gpg_keys.passphrase_fingerprint
        repo = tmp_path / "repo"
        (repo / "sub").mkdir(parents=True)
        write_config(
            repo,
            f"""\
            creation_rules:
              - path_regex: ^secrets/prod/
                shamir_threshold: 2
                key_groups:
                  - pgp: [{alice}]
                  - pgp: [{bob}]
                  - pgp: [{carol}]
              - path_regex: \\.enc\\.yaml$
                encrypted_regex: ^password$
                pgp: {bob}
              - path_regex: (?i)^DEV/
                pgp: "{alice.lower()},{bob}"
              - pgp: [{carol}]
            """,
        )
        return repo

    @pytest.mark.parametrize(
        ("cwd", "file"),
        [
            (".", "secrets/prod/db.yaml"),
            (".", "secrets/prod/app.enc.yaml"),  # rule 1 comes first
            (".", "dev/app.enc.yaml"),
            (".", "dev/app.yaml"),
            (".", "other/app.yaml"),
            ("sub", "../secrets/prod/db.yaml"),  # sops finds the config upwards from cwd
            ("sub", "{outside}/secrets/prod/db.yaml"),  # absolute path: ^secrets fails
            ("sub", "{outside}/dev/app.enc.yaml"),
        ],
    )
    def test_rule_for_picks_what_sops_picks(
        self, sops: Sops, repo: Path, tmp_path: Path, cwd: str, file: str
    ) -> None:
        argument = file.format(outside=tmp_path / "outside")
        target = repo / cwd / argument  # an absolute argument replaces the left side
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("password: hunter2\nuser: admin\n")
        output = sops.run("encrypt", argument, cwd=repo / cwd).stdout

        config_path = find_config(repo / cwd, None, {})
        assert config_path == repo / ".sops.yaml"
        rule = load_config(config_path).rule_for(target)
        assert our_choice(rule) == sops_choice(output)

    def test_no_matching_rule_fails_in_both(
        self, sops: Sops, tmp_path: Path, gpg_keys: GpgKeys
    ) -> None:
        config = write_config(
            tmp_path,
            f"creation_rules:\n  - path_regex: ^prod/\n    pgp: {gpg_keys.fingerprints[0]}\n",
        )
        target = tmp_path / "dev.yaml"
        target.write_text("a: b\n")
        result = sops.run("encrypt", "dev.yaml", cwd=tmp_path, check=False)
        assert result.returncode != 0
        assert b"no matching creation rules" in result.stderr
        with pytest.raises(ConfigError):
            load_config(config).rule_for(target)

    def test_an_invalid_rule_fails_only_the_files_it_matches_as_in_sops(
        self, sops: Sops, secure_up: SecureUp, tmp_path: Path, gpg_keys: GpgKeys
    ) -> None:
        write_config(
            tmp_path,
            "creation_rules:\n  - path_regex: bad\\.env$\n    key_groups:\n      - {}\n"
            f"  - pgp: {gpg_keys.fingerprints[0]}\n",
        )
        for name in ("good.env", "bad.env"):
            (tmp_path / name).write_text("A=1\n")
        assert sops.run("encrypt", "good.env", cwd=tmp_path, check=False).returncode == 0
        assert sops.run("encrypt", "bad.env", cwd=tmp_path, check=False).returncode != 0

        good = secure_up.run("encrypt", "good.env", cwd=tmp_path, check=False)
        assert good.returncode == 0, good.stderr.decode()
        bad = secure_up.run("encrypt", "bad.env", cwd=tmp_path, check=False)
        assert bad.returncode == 5
        assert b"empty key group" in bad.stderr
