"""``.sops.yaml``: where it is, and which creation rule applies to a file.

Behaviour follows sops 3.11 (``config/config.go``, ``cmd/sops/main.go``):

* The file is ``--config``, else ``$SOPS_CONFIG``, else the first ``.sops.yaml``
  in the working directory or a parent (at most 100 levels). ``.sops.yml`` is
  ignored, with a warning, as sops does.
* ``creation_rules`` are tried in order; the first whose ``path_regex`` finds a
  match (an unanchored search, Go RE2 syntax) wins, and a rule without one
  matches every file. The text searched is the file's absolute path with the
  config file's directory and a ``/`` cut off the front; a file outside that
  directory is searched as its full absolute path. Both paths are made absolute
  lexically (no symlinks resolved), as Go's ``filepath.Abs`` does.
* A file without ``creation_rules`` (empty, or only ``stores`` or
  ``destination_rules``, which we ignore) is, to sops, no config at all: keys
  must come from the command line. ``creation_rules: []`` matches nothing.

Where sops is lax we are strict, so that a mistake fails here instead of
silently producing a file for the wrong recipients: every rule is checked when
the file is loaded (sops checks only the rule it picks), a rule may not have
both ``key_groups`` and top-level keys (sops ignores the latter), and keys in
a ``key_groups`` entry must be a YAML list (as sops requires there).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from secure_up.errors import ConfigError, InputFileError
from secure_up.sops.goregex import GoRegex, compile_go_regex
from secure_up.sops.rules import RULE_KINDS
from secure_up.system.regular_file import read_regular

log = logging.getLogger(__name__)

CONFIG_FILE_NAME: Final = ".sops.yaml"
_IGNORED_CONFIG_NAME: Final = ".sops.yml"
_MAX_SEARCH_DEPTH: Final = 100  # sops' limit on parent directories searched
_MAX_CONFIG_SIZE: Final = 4 * 1024 * 1024  # a .sops.yaml is a few lines

ENCRYPTION_RULE_FIELDS: Final = RULE_KINDS
#: Key fields of a creation rule, each a comma-separated string or a list.
_RULE_KEY_FIELDS: Final = (
    "age",
    "pgp",
    "kms",
    "gcp_kms",
    "azure_keyvault",
    "hc_vault_transit_uri",
    "hckms",
)
_RULE_FIELDS: Final = frozenset(
    {
        "path_regex",
        "key_groups",
        "shamir_threshold",
        "mac_only_encrypted",
        "aws_profile",  # the profile of the rule's top-level kms keys
        *_RULE_KEY_FIELDS,
        *ENCRYPTION_RULE_FIELDS,
    }
)
#: Key types of a ``key_groups`` entry besides ``pgp`` and ``age``, kept as written.
_GROUP_OTHER_FIELDS: Final = ("kms", "gcp_kms", "hckms", "azure_keyvault", "hc_vault")
_GROUP_FIELDS: Final = frozenset({"merge", "pgp", "age", *_GROUP_OTHER_FIELDS})

_NULL_TAG: Final = "tag:yaml.org,2002:null"
_INT_TAG: Final = "tag:yaml.org,2002:int"
_MERGE_TAG: Final = "tag:yaml.org,2002:merge"
#: Strings Go's yaml.v3 reads into a bool (YAML 1.1 compatibility).
_BOOLEANS: Final = {
    **dict.fromkeys(("true", "y", "yes", "on"), True),
    **dict.fromkeys(("false", "n", "no", "off"), False),
}


def find_config(start: Path, explicit: Path | None, environ: Mapping[str, str]) -> Path | None:
    """The config file to use, or None when there is none.

    ``start`` is the working directory (sops searches from there, not from the
    encrypted file's directory); relative ``explicit`` or ``SOPS_CONFIG`` paths
    are taken relative to it. An explicit path is returned even when it does not
    exist, so that :func:`load_config` reports it.
    """
    chosen = explicit or environ.get("SOPS_CONFIG") or None
    if chosen is not None:
        return start / chosen
    ignored: Path | None = None
    for directory in _upwards(start):
        candidate = directory / CONFIG_FILE_NAME
        if candidate.is_file():
            return candidate
        if ignored is None and (directory / _IGNORED_CONFIG_NAME).is_file():
            ignored = directory / _IGNORED_CONFIG_NAME
    if ignored is not None:
        log.warning("ignoring %s: the config file must be called %s", ignored, CONFIG_FILE_NAME)
    return None


def _upwards(start: Path) -> Iterator[Path]:
    """``start`` and its parents, nearest first, as far as sops looks."""
    yield start
    yield from list(start.parents)[: _MAX_SEARCH_DEPTH - 1]


@dataclass(frozen=True)
class KeyGroupSpec:
    """The master keys of one key group: each can open the group's share of the data key.

    ``pgp`` holds fingerprints without spaces, upper-cased; ``age`` recipients.
    ``other`` keeps the other key types (kms, gcp_kms, ...) as written, by field
    name: :mod:`secure_up.sopsfile.recipients` reads ``kms``; callers name the rest in errors.
    """

    pgp: list[str] = field(default_factory=list)
    age: list[str] = field(default_factory=list)
    other: dict[str, list[Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class CreationRule:
    """What sops does when it creates a file: its recipients and which values to encrypt.

    ``key_groups`` is empty when the rule names no keys (they must then come
    from the command line). ``shamir_threshold`` 0 means "all groups", as in
    sops; with several groups any other value lies between 2 and their number
    (with one group there is nothing to split and sops ignores it).
    ``encryption_rule`` is (field name, value), e.g. ("encrypted_regex", "^pass").
    """

    key_groups: list[KeyGroupSpec] = field(default_factory=list)
    shamir_threshold: int = 0
    encryption_rule: tuple[str, str] | None = None
    mac_only_encrypted: bool = False
    path_regex: str = ""
    #: "path:line" of the rule in its config file, for messages.
    origin: str = ""
    #: What is wrong with the rule, raised only when a file uses it: sops, too, fails
    #: only for the files an invalid rule matches.
    problem: ConfigError | None = field(default=None, repr=False, compare=False)
    _pattern: GoRegex | None = field(default=None, repr=False, compare=False)

    def matches(self, path: str) -> bool:
        return self._pattern is None or self._pattern.search(path)


#: What a config without ``creation_rules`` (or no config) means: no keys, no rule.
NO_RULE: Final = CreationRule()


@dataclass(frozen=True)
class SopsConfig:
    """A loaded ``.sops.yaml``. ``creation_rules`` is None when the file has none."""

    path: Path
    creation_rules: list[CreationRule] | None

    def rule_for(self, file: Path) -> CreationRule:
        """The first creation rule matching ``file`` (relative paths are from the working
        directory, as for sops); :data:`NO_RULE` when the config has no creation rules."""
        if self.creation_rules is None:
            return NO_RULE
        searched = self.searched_path(file)
        for rule in self.creation_rules:
            if rule.matches(searched):
                if rule.problem is not None:
                    raise rule.problem
                return rule
        raise ConfigError(
            f"no creation rule in {self.path} matches {file} (path_regex is searched in "
            f"{searched!r})",
            f"add a rule whose path_regex matches it to {self.path}, or a last rule without "
            "path_regex to cover every file; sops refuses such a file even with --pgp",
        )

    def searched_path(self, file: Path) -> str:
        """The text a ``path_regex`` is searched in: the path relative to the config's
        directory when the file lies below it, else the absolute path."""
        absolute = os.path.abspath(file)
        # sops cuts "<dir>/"; for a config in "/" that is "//", which never matches.
        prefix = os.path.dirname(os.path.abspath(self.path)) + os.sep
        return absolute.removeprefix(prefix)


def load_config(path: Path) -> SopsConfig:
    """Read and check a ``.sops.yaml``; ConfigError (with file and line) when it is wrong."""
    try:
        text = read_regular(path, max_size=_MAX_CONFIG_SIZE, what="config file").decode("utf-8")
    except InputFileError as error:
        raise ConfigError(
            error.what, "check --config and SOPS_CONFIG, or create the file"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text", "save it as UTF-8") from None
    return _ConfigReader(path, text).read()


class _ConfigReader:
    """Turns the YAML node tree of one config file into a :class:`SopsConfig`.

    Nodes (rather than plain Python values) keep line numbers for messages and
    the raw text of scalars, which Go's yaml.v3 reads into string fields as is
    (``path_regex: 12`` is the regex "12").
    """

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.loader = yaml.SafeLoader(text)

    def read(self) -> SopsConfig:
        try:
            return self._config()
        finally:
            self.loader.dispose()

    def _config(self) -> SopsConfig:
        try:
            root = self.loader.get_single_node()
        except yaml.MarkedYAMLError as error:
            line = error.problem_mark.line + 1 if error.problem_mark else 0
            raise ConfigError(
                f"{self.path}:{line}: not valid YAML: {error.problem}",
                "fix the YAML syntax (indentation, quotes, colons) on that line",
            ) from None
        if root is None or self._is_null(root):
            return SopsConfig(self.path, None)
        rules_node = self._mapping(root, "the config file").get("creation_rules")
        if rules_node is None or self._is_null(rules_node):
            return SopsConfig(self.path, None)
        rules = [
            self._creation_rule(node, number)
            for number, node in enumerate(self._sequence(rules_node, "creation_rules"), 1)
        ]
        return SopsConfig(self.path, rules)

    # -- the parts of a config ------------------------------------------------

    def _creation_rule(self, node: yaml.Node, number: int) -> CreationRule:
        what = f"creation rule {number}"
        fields = self._mapping(node, what)
        self._warn_unknown(fields, _RULE_FIELDS, what)
        path_regex = self._string(fields.get("path_regex"))
        pattern = self._regex(fields["path_regex"], path_regex) if path_regex else None
        try:
            groups = self._rule_key_groups(fields, what)
            return CreationRule(
                key_groups=groups,
                shamir_threshold=self._threshold(fields, len(groups), what),
                encryption_rule=self._encryption_rule(fields, what),
                mac_only_encrypted=self._boolean(fields.get("mac_only_encrypted")),
                path_regex=path_regex,
                origin=self._where(node),
                _pattern=pattern,
            )
        except ConfigError as problem:  # only the files this rule matches fail, as in sops
            return CreationRule(
                path_regex=path_regex, origin=self._where(node), problem=problem, _pattern=pattern
            )

    def _rule_key_groups(self, fields: dict[str, yaml.Node], what: str) -> list[KeyGroupSpec]:
        """``key_groups``, or the rule's top-level keys as one group (none if it names none)."""
        top_level = [name for name in _RULE_KEY_FIELDS if self._present(fields.get(name))]
        groups_node = fields.get("key_groups")
        if groups_node is None or not self._sequence(groups_node, "key_groups", allow_null=True):
            keys = {name: self._key_list(fields[name], allow_csv=True) for name in top_level}
            profile = self._string(fields.get("aws_profile"))
            if profile and keys.get("kms"):  # as sops' KMS key string: ARN[+ROLE]|CONTEXT|PROFILE
                keys["kms"] = [f"{arn}||{profile}" for arn in keys["kms"]]
            return [self._group_from_lists(keys)] if any(keys.values()) else []
        if top_level:
            raise self._error(
                fields[top_level[0]],
                f"{what} has both key_groups and top-level {', '.join(top_level)}; "
                "sops ignores the top-level keys",
                "move those keys into one of the key_groups (or into a new group)",
            )
        return [
            self._key_group(group_node, f"key group {index} of {what}")
            for index, group_node in enumerate(self._sequence(groups_node, "key_groups"), 1)
        ]

    def _key_group(self, node: yaml.Node, what: str) -> KeyGroupSpec:
        keys = self._group_keys(node, what)
        if not any(keys.values()):
            raise self._error(
                node,
                f"{what} names no keys; sops cannot encrypt with an empty key group",
                "add pgp or age keys to it, or remove it",
            )
        return self._group_from_lists(keys)

    def _group_keys(self, node: yaml.Node, what: str) -> dict[str, list[Any]]:
        """All keys of a group by field name, ``merge``d groups first, as sops orders them."""
        fields = self._mapping(node, what)
        self._warn_unknown(fields, _GROUP_FIELDS, what)
        keys: dict[str, list[Any]] = {}
        merged = fields.get("merge")
        if merged is not None:
            for sub_node in self._sequence(merged, "merge", allow_null=True):
                for name, values in self._group_keys(sub_node, f"a merge of {what}").items():
                    keys.setdefault(name, []).extend(values)
        for name in ("pgp", "age"):
            if self._present(fields.get(name)):
                keys.setdefault(name, []).extend(self._key_list(fields[name], allow_csv=False))
        for name in _GROUP_OTHER_FIELDS:
            if self._present(fields.get(name)):
                raw = self.loader.construct_object(fields[name], deep=True)
                keys.setdefault(name, []).extend(raw if isinstance(raw, list) else [raw])
        return keys

    @staticmethod
    def _group_from_lists(keys: dict[str, list[Any]]) -> KeyGroupSpec:
        """A group with duplicates dropped, as sops drops them."""
        pgp = _unique(fingerprint.replace(" ", "").upper() for fingerprint in keys.get("pgp", []))
        other = {name: values for name, values in keys.items() if name not in ("pgp", "age")}
        return KeyGroupSpec(pgp=pgp, age=_unique(keys.get("age", [])), other=other)

    def _threshold(self, fields: dict[str, yaml.Node], groups: int, what: str) -> int:
        node = fields.get("shamir_threshold")
        if node is None or self._is_null(node):
            return 0
        threshold = self._integer(node)
        if threshold != 0 and groups > 1 and not 2 <= threshold <= groups:
            raise self._error(
                node,
                f"{what} has shamir_threshold {threshold} but {groups} key groups",
                f"use a threshold from 2 to {groups} (or 0 to require every group)",
            )
        return threshold

    def _encryption_rule(self, fields: dict[str, yaml.Node], what: str) -> tuple[str, str] | None:
        given = [
            (name, self._string(node))
            for name, node in fields.items()  # in the file's order, to point at the second
            if name in ENCRYPTION_RULE_FIELDS and self._string(node)
        ]
        if len(given) > 1:
            names = " and ".join(name for name, _ in given)
            raise self._error(
                fields[given[1][0]],
                f"{what} has {names}; sops allows one rule for which values are encrypted",
                "keep only one of them (a single regex can often express both)",
            )
        if not given:
            return None
        name, value = given[0]
        if name.endswith("_regex"):
            self._regex(fields[name], value)
        return name, value

    def _regex(self, node: yaml.Node, pattern: str) -> GoRegex:
        try:
            return compile_go_regex(pattern)
        except ValueError as error:
            raise self._error(
                node,
                f"the regex {pattern!r} cannot be used: {error}",
                "rewrite it in Go's regexp syntax (RE2: no lookarounds or backreferences)",
            ) from None

    # -- typed access to nodes ------------------------------------------------

    def _mapping(self, node: yaml.Node, what: str) -> dict[str, yaml.Node]:
        """A mapping's values by key, with ``<<`` merges applied; duplicate keys are errors."""
        if not isinstance(node, yaml.MappingNode):
            raise self._error(node, f"{what} must be a mapping (key: value lines)", _FIX_SHAPE)
        seen: set[str] = set()
        for key_node, _ in node.value:
            if key_node.tag != _MERGE_TAG and key_node.value in seen:
                raise self._error(
                    key_node,
                    f"{what} has the key {key_node.value!r} twice",
                    "remove one of them",
                )
            seen.add(key_node.value)
        try:
            self.loader.flatten_mapping(node)  # merged keys first, so own keys win below
        except yaml.MarkedYAMLError as error:
            raise self._error(
                node,
                f"a '<<' merge in {what} is invalid: {error.problem}",
                "merge only mappings defined elsewhere with an &anchor: '<<: *anchor'",
            ) from None
        return {str(key.value): value for key, value in node.value}

    def _sequence(self, node: yaml.Node, what: str, *, allow_null: bool = False) -> list[yaml.Node]:
        if allow_null and self._is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self._error(node, f"{what} must be a list (lines starting with '- ')", _FIX_SHAPE)
        return list(node.value)

    def _key_list(self, node: yaml.Node, *, allow_csv: bool) -> list[str]:
        """Keys from a list of strings, or (where sops allows it) a comma-separated string."""
        if isinstance(node, yaml.ScalarNode) and allow_csv:
            items = [node]
        elif isinstance(node, yaml.SequenceNode):
            items = list(node.value)
        else:
            raise self._error(
                node, "keys in a key group must be a list", "write them as '- KEY' lines"
            )
        keys: list[str] = []
        for item in items:
            if not isinstance(item, yaml.ScalarNode):
                raise self._error(item, "each key must be a string", _FIX_SHAPE)
            keys.extend(key.strip() for key in item.value.split(",") if key.strip())
        return keys

    def _string(self, node: yaml.Node | None) -> str:
        """A scalar's text ("" when absent or null), as yaml.v3 fills a Go string field."""
        if node is None or self._is_null(node):
            return ""
        if not isinstance(node, yaml.ScalarNode):
            raise self._error(
                node, "expected a single value here, not a list or mapping", _FIX_SHAPE
            )
        return str(node.value)

    def _integer(self, node: yaml.Node) -> int:
        if node.tag != _INT_TAG or not node.value.isdigit():
            raise self._error(
                node, "expected a whole number here", "write it without quotes, e.g. 2"
            )
        return int(node.value)

    def _boolean(self, node: yaml.Node | None) -> bool:
        if node is None or self._is_null(node):
            return False
        value = _BOOLEANS.get(self._string(node).lower())
        if value is None:
            raise self._error(node, "expected true or false here", "write true or false")
        return value

    def _present(self, node: yaml.Node | None) -> bool:
        """Whether a field holds something: null, "" and [] count as absent, as in sops."""
        if node is None or self._is_null(node):
            return False
        return bool(node.value)

    @staticmethod
    def _is_null(node: yaml.Node) -> bool:
        return node.tag == _NULL_TAG

    def _warn_unknown(self, fields: dict[str, yaml.Node], known: frozenset[str], what: str) -> None:
        for name in fields.keys() - known:
            log.warning(
                "%s: %s has the unknown key %r; sops ignores it",
                self._where(fields[name]),
                what,
                name,
            )

    def _where(self, node: yaml.Node) -> str:
        return f"{self.path}:{node.start_mark.line + 1}"

    def _error(self, node: yaml.Node, what: str, fix: str) -> ConfigError:
        return ConfigError(f"{self._where(node)}: {what}", fix)


_FIX_SHAPE: Final = "compare with the creation_rules examples in the sops documentation"


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
