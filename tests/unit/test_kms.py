"""AWS KMS entries: sops' key string, encryption contexts, STS session names, .sops.yaml rules."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from secure_up.errors import UsageError
from secure_up.keys.interface import KeyContext
from secure_up.keys.kms import KmsService, new_key, parse_context, recipient, session_name
from secure_up.sopsfile.config import load_config
from secure_up.sopsfile.recipients import rule_recipients

ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE = "arn:aws:iam::111122223333:role/sops"


def test_a_role_is_split_off_as_sops_does() -> None:
    key = new_key(f" {ARN} +{ROLE}")
    assert (key.arn, key.role, key.context, key.aws_profile) == (ARN, ROLE, {}, "")
    assert key.identifier == f"{ARN}+{ROLE}"


def test_the_key_string_round_trips_like_sops_to_string() -> None:
    key = new_key(ARN, context={"env": "prod", "app": "billing"}, aws_profile="ops")
    # sops' ToString: sorted context, profile last.
    assert key.identifier == f"{ARN}|app:billing,env:prod|ops"
    again = new_key(key.identifier)
    assert (again.arn, again.context, again.aws_profile) == (ARN, key.context, "ops")
    assert recipient(ARN, aws_profile="ops") == f"{ARN}||ops"


@pytest.mark.parametrize("text", ["arn:aws:kms:eu-west-1:key/x", "alias/foo", "1234abcd", ""])
def test_only_a_kms_key_arn_is_a_recipient(text: str) -> None:
    with pytest.raises(UsageError, match="is not the ARN of an AWS KMS key"):
        new_key(text)


def test_a_context_is_key_value_pairs() -> None:
    assert parse_context("app:billing,env:prod") == {"app": "billing", "env": "prod"}
    assert parse_context("") == {}
    assert parse_context("owner:arn:aws:iam::1:role/x") == {"owner": "arn:aws:iam::1:role/x"}
    for bad in ("app", ":x"):
        with pytest.raises(UsageError, match="is not a key:value pair"):
            parse_context(bad)


def test_the_sts_session_name_is_sops_own() -> None:
    # Go's [^a-zA-Z0-9=,.@-_] keeps '@'..'_' as a range: a '-' goes, as in sops.
    assert session_name("build-host.example.com") == "sops@buildhost.example.com"
    assert session_name("x" * 100) == "sops@" + "x" * 59


def test_kms_entries_of_sops_yaml_become_recipients(tmp_path: Path) -> None:
    config = tmp_path / ".sops.yaml"
    config.write_text(
        f"""
creation_rules:
  - path_regex: top
    kms: "{ARN}+{ROLE},{ARN}"
    aws_profile: ops
  - path_regex: groups
    key_groups:
      - kms:
          - arn: {ARN}
            role: {ROLE}
            context: {{app: billing}}
            aws_profile: dev
"""
    )
    rules = load_config(config).creation_rules
    assert rules is not None
    assert rule_recipients(rules[0].key_groups[0]) == [
        ("kms", f"{ARN}+{ROLE}||ops"),
        ("kms", f"{ARN}||ops"),
    ]
    [(kind, text)] = rule_recipients(rules[1].key_groups[0])
    assert (kind, text) == ("kms", f"{ARN}+{ROLE}|app:billing|dev")
    key = new_key(text)
    assert (key.role, key.context, key.aws_profile) == (ROLE, {"app": "billing"}, "dev")


def test_boto3_is_imported_only_when_a_key_is_used() -> None:
    import subprocess
    import sys

    code = "import secure_up.keys.registry, sys; print('boto3' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert result.stdout.strip() == b"False"


def test_identities_say_where_credentials_come_from_never_what_they_are(tmp_path: Path) -> None:
    environ: dict[str, str] = {
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEKEYID0001",
        "AWS_SECRET_ACCESS_KEY": "very-secret-access-key",
    }
    with contextlib.ExitStack() as cleanup:
        service = KmsService(KeyContext(environ, False, cleanup))
        described = " ".join([*service.identities(), service.where()])
    assert "AWS_ACCESS_KEY_ID" in described
    assert "AKIAEXAMPLEKEYID0001" not in described
    assert "very-secret-access-key" not in described

    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "credentials").write_text(
        "[ops]\naws_access_key_id = AKIAEXAMPLEKEYID0002\naws_secret_access_key = s3cr3t\n"
    )
    with contextlib.ExitStack() as cleanup:
        environ = {"HOME": str(tmp_path), "AWS_PROFILE": "ops"}
        service = KmsService(KeyContext(environ, False, cleanup))
        [found] = service.identities()
    assert found == "profile ops, from the credentials file"

    with contextlib.ExitStack() as cleanup:
        service = KmsService(KeyContext({"HOME": str(tmp_path / "none")}, False, cleanup))
        assert service.identities() == []
