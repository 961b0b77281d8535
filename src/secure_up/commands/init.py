"""``init``: from a compose file to an encrypted secrets file in one command.

It creates what is missing and nothing else, in this order, saying what it did:

1. a key: an age identity at sops' default place (mode 0600), unless one is
   there already, ``SOPS_AGE_KEY_FILE`` names one, or ``--age RECIPIENT`` /
   ``--pgp FINGERPRINT`` name an existing key;
2. ``.sops.yaml`` with a creation rule for ``secrets/`` naming that key (an
   existing ``.sops.yaml`` is used as it is, and must have a rule for the file);
3. the secrets file (``x-secure-up.secrets`` of the compose file, else
   ``secrets/environment.secrets``) holding every variable the compose files need
   that is set nowhere (the preflight's list), each value typed without echo or
   ``--generate``d; the plaintext exists only in memory;
4. ``.gitignore`` lines for plaintext copies and key files;
5. with ``--pre-commit`` (or a yes on the terminal), the secure-up hooks in
   ``.pre-commit-config.yaml``.

Run twice, it changes nothing: it never overwrites a key or a file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from secure_up.errors import ConfigError, SecureUpError, UsageError
from secure_up.launch import compose, variables
from secure_up.sopsfile import Branch, FileType, store_for

Format = Literal["binary", "dotenv", "yaml", "json"]

CONFIG_FILE: Final = ".sops.yaml"
_SUFFIXES: Final[dict[str, str]] = {
    "binary": ".secrets",
    "dotenv": ".env",
    "yaml": ".yaml",
    "json": ".json",
}
#: Plaintext copies and key files never belong in a repository.
GITIGNORE_LINES: Final = (
    "# secure-up: plaintext copies of secrets and private keys never belong in git",
    "*.decrypted",
    "*.plaintext",
    "*.agekey",
    "keys.txt",
)
PRE_COMMIT_CONFIG: Final = ".pre-commit-config.yaml"
PRE_COMMIT_HOOKS: Final = """\
# secure-up: refuse plaintext secrets and secret values in commits
- repo: local
  hooks:
    - id: secure-up-encrypted
      name: secure-up - files .sops.yaml covers are encrypted
      entry: secure-up scan --no-values
      language: system
      types: [file]
      require_serial: true
    - id: secure-up-scan
      name: secure-up - no secret value in staged files
      entry: secure-up scan
      language: system
      types: [file]
      require_serial: true
"""


@dataclass
class InitOptions:
    compose_files: list[Path] = field(default_factory=list)
    age: str | None = None
    pgp: str | None = None
    file_format: Format | None = None
    generate: bool = False
    length: int | None = None
    charset: str | None = None
    pre_commit: bool | None = None


@dataclass
class InitReport:
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def did(self, what: str) -> None:
        self.created.append(what)

    def had(self, what: str) -> None:
        self.kept.append(what)


def init(
    options: InitOptions,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Create what the project lacks; print what was done and the next command."""
    cwd = (cwd or Path.cwd()).absolute()
    environ = os.environ if environ is None else environ
    report = InitReport()
    compose_files = compose.find_compose_files(cwd, options.compose_files, environ)
    secrets_file = _secrets_file(cwd, compose_files, options.file_format)
    recipient = _recipient(options, environ, report)
    config_path = _sops_config(cwd, recipient, secrets_file, report)
    _secrets(options, cwd, compose_files, environ, secrets_file, config_path, report)
    _gitignore(cwd, report)
    _pre_commit(options, cwd, report)
    _tell(report, cwd)
    return 0


# -- 1. the key ----------------------------------------------------------------------------------


def _recipient(
    options: InitOptions, environ: Mapping[str, str], report: InitReport
) -> tuple[str, str]:
    """(kind, recipient) of the key new files are encrypted to."""
    if options.age and options.pgp:
        raise UsageError("give --age or --pgp, not both", "init names one key; add more later")
    if options.pgp:
        from secure_up.sopsfile.recipients import parse_fingerprint

        return "pgp", parse_fingerprint(options.pgp, "--pgp")
    if options.age:
        from secure_up.sopsfile.creation import check_recipient

        check_recipient("age", options.age)  # refuses what is not a recipient, saying why
        return "age", options.age
    from secure_up.keys.services import age_key_file, ensure_age_identity

    path = age_key_file(environ)
    if path is None:
        raise SecureUpError(
            "cannot tell where sops keeps age keys: neither XDG_CONFIG_HOME nor HOME is set",
            "set SOPS_AGE_KEY_FILE to where the key should be, or pass --age / --pgp",
        )
    recipient, created = ensure_age_identity(path)
    (report.did if created else report.had)(f"age key {path} (recipient {recipient})")
    return "age", recipient


# -- 2. .sops.yaml -------------------------------------------------------------------------------


def _sops_config(
    cwd: Path, recipient: tuple[str, str], secrets_file: Path, report: InitReport
) -> Path:
    from secure_up.sopsfile.config import find_config, load_config

    existing = find_config(cwd, None, {})
    if existing is not None:
        try:
            load_config(existing).rule_for(secrets_file)
        except ConfigError as error:
            raise ConfigError(
                f"{existing} exists but has no usable creation rule for {secrets_file}: "
                f"{error.what}",
                f"add a rule whose path_regex matches {secrets_file.relative_to(cwd)} "
                f"(init never rewrites an existing {CONFIG_FILE})",
            ) from None
        report.had(f"{_shown(existing, cwd)} (it has a rule for {_shown(secrets_file, cwd)})")
        return existing
    kind, who = recipient
    path = cwd / CONFIG_FILE
    text = (
        "# Which keys sops and secure-up encrypt new files to (first matching rule wins).\n"
        "creation_rules:\n"
        "  - path_regex: (^|/)secrets/\n"
        f"    {kind}: {who}\n"
    )
    _create(path, text.encode())
    report.did(f"{CONFIG_FILE} (files under secrets/ are encrypted to {who})")
    return path


# -- 3. the secrets file -------------------------------------------------------------------------


def _secrets_file(cwd: Path, compose_files: Sequence[Path], file_format: Format | None) -> Path:
    declared = compose.declared_secrets_files(compose_files)
    if declared:
        path = declared[0].resolve()
        if file_format is not None and _file_type(path, None) != file_format:
            raise UsageError(
                f"the compose file names {path} as its secrets file, which is not {file_format}",
                "leave out --format, or change x-secure-up.secrets in the compose file",
            )
        return path
    suffix = _SUFFIXES[file_format or "binary"]
    return cwd / "secrets" / f"environment{suffix}"


def _secrets(
    options: InitOptions,
    cwd: Path,
    compose_files: Sequence[Path],
    environ: Mapping[str, str],
    path: Path,
    config_path: Path,
    report: InitReport,
) -> None:
    if path.exists():
        report.had(f"{_shown(path, cwd)} (run `secure-up check` to see what it lacks)")
        return
    missing = _missing_variables(compose_files, environ)
    file_type = _file_type(path, options.file_format)
    values = _values(missing, options)
    plaintext = _plaintext(values, file_type)
    from secure_up.commands.crypt import keys_for
    from secure_up.sopsfile import encrypt_new
    from secure_up.sopsfile.creation import new_metadata

    metadata = new_metadata(
        path,
        pgp=None,
        rules={},
        mac_only_encrypted=False,
        config=config_path,
        environ=environ,
        binary=file_type == "binary",
    )
    with keys_for(environ) as keys:
        encrypted = encrypt_new(plaintext, file_type, metadata, keys)
    path.parent.mkdir(parents=True, exist_ok=True)
    _create(path, encrypted)
    names = ", ".join(missing) or "no variable yet"
    report.did(f"{_shown(path, cwd)}, encrypted, holding {names}")


def _missing_variables(compose_files: Sequence[Path], environ: Mapping[str, str]) -> list[str]:
    """What the compose files need that is set nowhere: the preflight's list."""
    from secure_up.launch.preflight import preflight

    uses = variables.interpolated_variables(compose_files, profiles=["*"])
    env_names = variables.dotenv_names(compose.project_directory(compose_files))
    report = preflight(uses, [], environ, env_names)
    return [variable.name for variable in report.missing]


def _file_type(path: Path, file_format: Format | None) -> FileType:
    if file_format is not None:
        return file_format
    from secure_up.sopsfile import file_type_for

    return file_type_for(path, None)


def _values(names: Sequence[str], options: InitOptions) -> dict[str, str]:
    from secure_up.editing.values import open_terminal, read_value

    terminal = None if options.generate or not names else open_terminal()
    if names and not options.generate and terminal is None:
        raise UsageError(
            f"the compose files need {', '.join(names)}, and there is no terminal to type "
            "their values",
            "run init on a terminal, or pass --generate for random values",
        )
    return {
        name: read_value(
            name,
            stdin=None,
            terminal=terminal,
            generate=options.generate,
            length=options.length,
            charset=options.charset,
        )
        for name in names
    }


def _plaintext(values: Mapping[str, str], file_type: FileType) -> bytes:
    if file_type == "binary":
        from secure_up.launch.shellenv import format_shell_assignment

        lines = [format_shell_assignment(name, value) for name, value in values.items()]
        return "".join(f"{line}\n" for line in lines).encode()
    document = Branch()
    for name, value in values.items():
        document.set(name, value)
    return store_for(file_type).dump_plain([document])


# -- 4. and 5. the repository ------------------------------------------------------------------


def _gitignore(cwd: Path, report: InitReport) -> None:
    path = cwd / ".gitignore"
    text = path.read_text() if path.is_file() else ""
    present = {line.strip() for line in text.splitlines()}
    missing = [line for line in GITIGNORE_LINES if line not in present]
    if not missing:
        report.had(".gitignore (it ignores plaintext copies and key files)")
        return
    separator = "" if not text or text.endswith("\n") else "\n"
    with path.open("a") as handle:
        handle.write(separator + "".join(f"{line}\n" for line in missing))
    report.did(".gitignore lines for plaintext copies and key files")


def _pre_commit(options: InitOptions, cwd: Path, report: InitReport) -> None:
    path = cwd / PRE_COMMIT_CONFIG
    text = path.read_text() if path.is_file() else ""
    if "secure-up-encrypted" in text:
        report.had(f"{PRE_COMMIT_CONFIG} (it runs the secure-up hooks)")
        return
    wanted = options.pre_commit
    if wanted is None:
        from secure_up.editing.values import open_terminal

        terminal = open_terminal()
        wanted = terminal is not None and terminal.confirm(
            "Add secure-up's pre-commit hooks (no plaintext secrets in commits)?"
        )
    if not wanted:
        return
    if not text:
        text = "repos:\n"
    elif "repos:" not in text:
        raise ConfigError(
            f"{path} has no `repos:` list to add the secure-up hooks to",
            "add them by hand (see README, Guard rails)",
        )
    hooks = "".join(f"  {line}\n" if line else "\n" for line in PRE_COMMIT_HOOKS.splitlines())
    separator = "" if text.endswith("\n") else "\n"
    path.write_text(text + separator + hooks)
    report.did(f"{PRE_COMMIT_CONFIG} with the secure-up hooks (pre-commit install to use them)")


def _tell(report: InitReport, cwd: Path) -> None:
    from secure_up.console import Console, table

    rows = [("created", what) for what in report.created]
    rows += [("kept", what) for what in report.kept]
    if not report.created:
        rows.append(("nothing to do:", "everything init makes is there"))
    rows.append(("next:", "secure-up app    (or secure-up up SERVICE...)"))
    Console.system().note(table(rows).rstrip("\n"))


def _create(path: Path, data: bytes) -> None:
    """Write a new file; never replace one (O_EXCL), so a race cannot overwrite it."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _shown(path: Path, cwd: Path) -> str:
    try:
        return str(path.relative_to(cwd))
    except ValueError:
        return str(path)
