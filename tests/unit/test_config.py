"""``.sops.yaml``: finding it, reading it, and picking the rule sops would pick.

Pure tests; tests/interop/test_config_interop.py checks the same choices against the real sops.
"""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest

from secure_up.errors import ConfigError, ExitCode
from secure_up.sopsfile.config import (
    NO_RULE,
    CreationRule,
    KeyGroupSpec,
    find_config,
    load_config,
)

ALICE = "A" * 40
BOB = "B" * 40


def write_config(directory: Path, text: str) -> Path:
    path = directory / ".sops.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def single_rule(tmp_path: Path, text: str) -> CreationRule:
    config = load_config(write_config(tmp_path, "creation_rules:\n" + textwrap.indent(text, "  ")))
    assert config.creation_rules is not None
    return config.creation_rules[0]


# -- find_config ------------------------------------------------------------


class TestFindConfig:
    def test_the_nearest_sops_yaml_upwards_from_the_start(self, tmp_path: Path) -> None:
        deep = tmp_path / "a" / "b"
        deep.mkdir(parents=True)
        write_config(tmp_path, "")
        nearer = write_config(tmp_path / "a", "")
        assert find_config(deep, None, {}) == nearer

    def test_explicit_wins_over_environment_and_search(self, tmp_path: Path) -> None:
        write_config(tmp_path, "")
        environ = {"SOPS_CONFIG": "/from/env.yaml"}
        assert find_config(tmp_path, Path("given.yaml"), environ) == tmp_path / "given.yaml"
        assert find_config(tmp_path, None, environ) == Path("/from/env.yaml")

    def test_an_empty_sops_config_variable_is_unset(self, tmp_path: Path) -> None:
        found = write_config(tmp_path, "")
        assert find_config(tmp_path, None, {"SOPS_CONFIG": ""}) == found

    def test_sops_yml_is_ignored_with_a_warning_as_sops_does(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        (tmp_path / ".sops.yml").write_text("creation_rules: []\n")
        with caplog.at_level(logging.WARNING, logger="secure_up.sopsfile.config"):
            found = find_config(tmp_path, None, {})
        # tmp_path's parents (/tmp, /) hold no .sops.yaml on a sane machine
        assert found is None or not found.is_relative_to(tmp_path)
        assert ".sops.yml" in caplog.text


# -- load_config: what a rule holds ----------------------------------------


class TestLoadConfig:
    def test_top_level_keys_form_one_group_normalised_and_deduplicated(
        self, tmp_path: Path
    ) -> None:
        rule = single_rule(
            tmp_path,
            f"""\
            - pgp: "{ALICE.lower()}, {BOB[:20]} {BOB[20:]},{ALICE}"
              age: [age1one, "age1two,age1one"]
              kms: arn:aws:kms:one
            """,
        )
        assert rule.key_groups == [
            KeyGroupSpec(
                pgp=[ALICE, BOB], age=["age1one", "age1two"], other={"kms": ["arn:aws:kms:one"]}
            )
        ]
        assert (rule.shamir_threshold, rule.encryption_rule, rule.mac_only_encrypted) == (
            0,
            None,
            False,
        )

    def test_key_groups_with_merge_other_key_types_and_threshold(self, tmp_path: Path) -> None:
        rule = single_rule(
            tmp_path,
            f"""\
            - shamir_threshold: 2
              encrypted_regex: ^(password|token)$
              mac_only_encrypted: yes
              key_groups:
                - pgp: [{ALICE}]
                  kms: [{{arn: "arn:one", role: admin}}]
                - merge:
                    - pgp: [{BOB}]
                  pgp: [{ALICE}, {BOB}]
            """,
        )
        assert rule.key_groups == [
            KeyGroupSpec(pgp=[ALICE], other={"kms": [{"arn": "arn:one", "role": "admin"}]}),
            KeyGroupSpec(pgp=[BOB, ALICE]),
        ]
        assert rule.shamir_threshold == 2
        assert rule.encryption_rule == ("encrypted_regex", "^(password|token)$")
        assert rule.mac_only_encrypted is True

    def test_yaml_anchors_and_merge_keys_work(self, tmp_path: Path) -> None:
        config = load_config(
            write_config(
                tmp_path,
                f"""\
                x-admins: &admins "{ALICE}"
                x-base: &base
                  unencrypted_suffix: _plain
                  pgp: *admins
                creation_rules:
                  - <<: *base
                    path_regex: ^prod/
                    pgp: {BOB}
                """,
            )
        )
        assert config.creation_rules is not None
        rule = config.creation_rules[0]
        assert [group.pgp for group in rule.key_groups] == [[BOB]]
        assert rule.encryption_rule == ("unencrypted_suffix", "_plain")

    def test_a_scalar_path_regex_is_read_as_its_text_like_go_yaml(self, tmp_path: Path) -> None:
        rule = single_rule(tmp_path, f"- path_regex: 12\n  pgp: {ALICE}\n")
        assert rule.path_regex == "12"

    @pytest.mark.parametrize("text", ["", "stores:\n  yaml:\n    indent: 2\n", "creation_rules:\n"])
    def test_no_creation_rules_means_no_rule_for_any_file(self, tmp_path: Path, text: str) -> None:
        config = load_config(write_config(tmp_path, text))
        assert config.creation_rules is None
        assert config.rule_for(tmp_path / "x.yaml") is NO_RULE
        assert NO_RULE.key_groups == []

    def test_unknown_keys_are_ignored_with_a_warning(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.WARNING, logger="secure_up.sopsfile.config"):
            rule = single_rule(tmp_path, f"- path_regexp: ^prod/\n  pgp: {ALICE}\n")
        assert rule.path_regex == ""
        assert "path_regexp" in caplog.text
        assert ".sops.yaml:2" in caplog.text


# -- load_config: errors -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("creation_rules:\n  - pgp: [a\n", 3, "not valid YAML"),
        ("- just a list\n", 1, "must be a mapping"),
        ("creation_rules:\n  pgp: x\n", 2, "must be a list"),
        ("creation_rules:\n  - pgp: x\n    pgp: y\n", 3, "twice"),
        ('creation_rules:\n  - shamir_threshold: "2"\n', 2, "whole number"),
        ("creation_rules:\n  - mac_only_encrypted: maybe\n", 2, "true or false"),
        ("creation_rules:\n  - path_regex: [a]\n", 2, "single value"),
        (
            "creation_rules:\n  - encrypted_regex: a\n    unencrypted_suffix: _u\n",
            3,
            "encrypted_regex and unencrypted_suffix",
        ),
        ("creation_rules:\n  - path_regex: '(?=x)'\n", 2, "invalid perl operator"),
        ("creation_rules:\n  - encrypted_regex: 'a\\Z'\n", 2, "invalid escape sequence"),
        (
            "creation_rules:\n  - pgp: A\n    key_groups:\n      - pgp: [B]\n",
            2,
            "both key_groups and top-level pgp",
        ),
        ("creation_rules:\n  - key_groups:\n      - pgp: B\n", 3, "must be a list"),
        ("creation_rules:\n  - key_groups:\n      - pgp: []\n      - age: [x]\n", 3, "no keys"),
        (
            "creation_rules:\n  - shamir_threshold: 3\n    key_groups:\n"
            "      - pgp: [A]\n      - pgp: [B]\n",
            2,
            "3 but 2 key groups",
        ),
    ],
)
def test_malformed_config_names_file_and_line_and_fix(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path).rule_for(tmp_path / "any.yaml")  # a rule's own errors: when used
    assert f"{path}:{line}:" in caught.value.what
    assert caught.value.fix
    assert caught.value.exit_code == ExitCode.CONFIG


def test_a_missing_config_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as caught:
        load_config(tmp_path / "nope.yaml")
    assert "SOPS_CONFIG" in (caught.value.fix or "")


# -- rule_for ---------------------------------------------------------------------


class TestRuleFor:
    @pytest.fixture
    def config_path(self, tmp_path: Path) -> Path:
        repo = tmp_path / "repo"
        repo.mkdir()
        return write_config(
            repo,
            f"""\
            creation_rules:
              - path_regex: ^prod/
                pgp: {ALICE}
              - path_regex: \\.enc\\.yaml$
                pgp: {BOB}
            """,
        )

    def fingerprints(self, rule: CreationRule) -> list[list[str]]:
        return [group.pgp for group in rule.key_groups]

    def test_first_match_wins_relative_to_the_config_directory(self, config_path: Path) -> None:
        config = load_config(config_path)
        repo = config_path.parent
        assert self.fingerprints(config.rule_for(repo / "prod" / "a.enc.yaml")) == [[ALICE]]
        assert self.fingerprints(config.rule_for(repo / "dev" / "a.enc.yaml")) == [[BOB]]
        assert config.searched_path(repo / "dev" / ".." / "prod" / "x") == "prod/x"

    def test_dollar_is_the_end_of_the_text_as_in_go(self, config_path: Path) -> None:
        config = load_config(config_path)
        with pytest.raises(ConfigError):
            config.rule_for(config_path.parent / "a.enc.yaml\n")

    def test_a_file_outside_the_config_directory_is_matched_by_absolute_path(
        self, config_path: Path, tmp_path: Path
    ) -> None:
        config = load_config(config_path)
        outside = tmp_path / "prod" / "x.yaml"
        assert config.searched_path(outside) == str(outside)
        with pytest.raises(ConfigError) as caught:
            config.rule_for(outside)
        assert str(config_path) in caught.value.what
        assert str(outside) in caught.value.what
        assert "path_regex" in (caught.value.fix or "")

    def test_a_rule_without_path_regex_matches_everything(self, tmp_path: Path) -> None:
        config = load_config(write_config(tmp_path, f"creation_rules:\n  - pgp: {ALICE}\n"))
        assert self.fingerprints(config.rule_for(Path("/anything/at/all"))) == [[ALICE]]

    def test_an_empty_rule_list_matches_nothing(self, tmp_path: Path) -> None:
        config = load_config(write_config(tmp_path, "creation_rules: []\n"))
        with pytest.raises(ConfigError, match="no creation rule"):
            config.rule_for(tmp_path / "x.yaml")


# -- Go RE2 in Python -------------------------------------------------------------
