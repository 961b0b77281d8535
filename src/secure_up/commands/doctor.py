"""``doctor``: is this machine ready for secure-up? Per item: OK, or the problem and the fix.

It checks what a run needs, in the order a run needs it: gpg and its agent
(only when a file has PGP recipients, or a file cannot be read), the age
identities (when a file has age recipients or an age variable is set), which
key opens which secrets file, the compose command, a
Docker engine, and the ``.sops.yaml`` that applies. It uses the same keyring a
command would (an ephemeral one when ``SECURE_UP_GPG_KEY`` is set). Every
check has a timeout and gpg is never allowed to ask for a passphrase, so
doctor never hangs; it answers the same way with or without a terminal.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from secure_up.errors import SecureUpError
from secure_up.keys.age import SECRET_VARIABLES as AGE_SECRET_VARIABLES
from secure_up.keys.age import SSH_KEY_FILE_VARIABLE, AgeService
from secure_up.keys.pgp import GnuPG, PgpService, SecretKey
from secure_up.keys.services import KeyServices, key_services
from secure_up.keys.session import KEY_VARIABLE, key_variable_set
from secure_up.system.process import capture

#: Variables that point doctor at age identities even when no file names an age recipient.
AGE_VARIABLES = (*AGE_SECRET_VARIABLES, SSH_KEY_FILE_VARIABLE)
#: Seconds a probe (docker, compose) may take before we call it hung.
PROBE_TIMEOUT = 10.0
#: ``docker info`` waits for an engine that is not there; give up sooner.
ENGINE_TIMEOUT = 5.0


@dataclass(frozen=True)
class Check:
    """The outcome of one item; ``fix`` says what to do when it is not OK."""

    item: str
    ok: bool
    detail: str
    fix: str | None = None

    def line(self) -> str:
        if self.ok:
            return f"OK    {self.item}: {self.detail}"
        return f"FAIL  {self.item}: {self.detail}" + (f"; fix: {self.fix}" if self.fix else "")


def doctor(
    environ: Mapping[str, str],
    *,
    json_output: bool,
    secrets_files: Sequence[Path] = (),
    config: Path | None = None,
    cwd: Path | None = None,
    out: TextIO | None = None,
) -> int:
    """Print every check (text, or a JSON list with ``--json``); 0 when all are OK, else 1.

    ``secrets_files`` are the files given with ``-s``; without them doctor
    checks the files a run would use (``SECURE_UP_SECRETS``, the compose
    files' ``x-secure-up``, else ``secrets/environment.secrets``).
    """
    cwd = cwd or Path.cwd()
    out = out or sys.stdout
    checks: list[Check] = []
    for check in run_checks(environ, secrets_files=secrets_files, config=config, cwd=cwd):
        checks.append(check)
        if not json_output:
            out.write(check.line() + "\n")
            out.flush()
    if json_output:
        out.write(json.dumps([asdict(check) for check in checks], indent=2) + "\n")
    return 0 if all(check.ok for check in checks) else 1


def run_checks(
    environ: Mapping[str, str], *, secrets_files: Sequence[Path], config: Path | None, cwd: Path
) -> Iterator[Check]:
    """Every check, as each finishes (so a slow one shows what came before it)."""
    files = _secrets_files(environ, secrets_files, cwd)
    yield from _key_checks(environ, files)
    yield from _renewal_checks(files)
    yield _aws_check(environ)
    probes = _Probes(environ)
    yield _compose_check(probes)
    yield _engine_check(probes)
    yield _config_check(environ, config, cwd)


def _renewal_checks(secrets_files: list[Path] | SecureUpError) -> Iterator[Check]:
    """A renewal left pending (a killed `secure-up renew`) is not OK until resumed or aborted."""
    from secure_up.renew.status import pending_renewals

    if isinstance(secrets_files, SecureUpError):
        return
    for line in pending_renewals(secrets_files):
        yield Check(
            "pending renewal",
            False,
            line.removeprefix("warning: ").split("; finish")[0],
            "secure-up renew --resume (finish it) or secure-up renew --abort (undo it)",
        )


def _secrets_files(
    environ: Mapping[str, str], explicit: Sequence[Path], cwd: Path
) -> list[Path] | SecureUpError:
    """The files a run would decrypt, or why they cannot be found."""
    from secure_up.launch.compose import find_compose_files, find_secrets_files

    try:
        compose_files = find_compose_files(cwd, (), environ)
    except SecureUpError:
        compose_files = []  # no compose file: secrets can still be named otherwise
    try:
        return find_secrets_files(explicit, environ, compose_files, cwd=cwd)
    except SecureUpError as error:
        return error


def _key_checks(
    environ: Mapping[str, str], secrets_files: list[Path] | SecureUpError
) -> Iterator[Check]:
    """gpg when a file (or SECURE_UP_GPG_KEY) needs it, age when one does, then each file."""
    kinds = _kinds_in(secrets_files)
    need_gpg = kinds is None or "pgp" in kinds or key_variable_set(environ)
    need_age = (kinds is not None and "age" in kinds) or any(
        name in environ for name in AGE_VARIABLES
    )
    try:
        with key_services(environ, interactive=False) as services:
            keys: list[SecretKey] = []
            if need_gpg:
                gpg_ok = True
                for check in _gpg_checks(environ, services, keys):
                    gpg_ok = gpg_ok and check.ok
                    yield check
                if not gpg_ok and not need_age:
                    return  # without gpg no file opens: the checks above say why
            if need_age:
                yield _age_check(services, kinds or set())
            yield from _secrets_file_checks(services, keys, secrets_files)
    except SecureUpError as error:
        yield Check("gpg", False, error.what, error.fix)


def _aws_check(environ: Mapping[str, str]) -> Check:
    """Whether AWS credentials are there, and from where: never the credentials themselves."""
    with key_services(environ, interactive=False) as services:
        kms = services.service("kms")
        assert kms is not None  # noqa: S101 - the registry's kms entry
        found = kms.identities()
    if found:
        return Check("AWS credentials", True, ", ".join(found))
    return Check(
        "AWS credentials",
        True,  # only files with AWS KMS keys need them; their own check fails without
        "none in the environment or ~/.aws (needed only for files with AWS KMS keys; an EC2 "
        "or container role is not checked here)",
    )


def _kinds_in(secrets_files: list[Path] | SecureUpError) -> set[str] | None:
    """The master key kinds of the files; None when a file cannot be read (then check all)."""
    from secure_up.sopsfile import EncryptedFile

    if isinstance(secrets_files, SecureUpError) or not secrets_files:
        return None
    kinds: set[str] = set()
    for path in secrets_files:
        try:
            kinds |= {key.kind for key in EncryptedFile.read(path).metadata.master_keys}
        except SecureUpError:
            return None
    return kinds


def _gpg_checks(
    environ: Mapping[str, str], services: KeyServices, found: list[SecretKey]
) -> Iterator[Check]:
    """gpg, its agent and its secret keys (appended to ``found``)."""
    try:
        pgp = services.service("pgp")
        assert isinstance(pgp, PgpService)  # noqa: S101 - the registry's pgp entry
        gpg = pgp.gpg
        version = ".".join(map(str, gpg.version))
        yield Check("gpg", True, f"GnuPG {version}")
        try:
            gpg.start_agent()
        except SecureUpError as error:
            yield Check("gpg-agent", False, error.what, error.fix)
            return  # without an agent, gpg cannot use a secret key
        yield Check("gpg-agent", True, f"answers for {gpg.home}")
        found += gpg.secret_keys()
        yield _keys_check(environ, gpg, found)
    except SecureUpError as error:
        yield Check("gpg", False, error.what, error.fix)


def _age_check(services: KeyServices, kinds: set[str]) -> Check:
    age = services.service("age")
    assert isinstance(age, AgeService)  # noqa: S101 - the registry's age entry
    loaded = age.loaded
    if loaded.problems:
        return Check(
            "age identities",
            False,
            "; ".join(loaded.problems),
            "fix or unset the variable or file named (sops reads the same places)",
        )
    if not loaded.identities:
        return Check(
            "age identities",
            "age" not in kinds,  # a failure only when a file has age recipients
            f"none in {', '.join(loaded.places)}",
            "put your age key in SOPS_AGE_KEY_FILE or ~/.config/sops/age/keys.txt (in CI set "
            "SOPS_AGE_KEY to the key file's text)",
        )
    return Check(
        "age identities", True, ", ".join(identity.describe() for identity in loaded.identities)
    )


def _keys_check(environ: Mapping[str, str], gpg: GnuPG, keys: list[SecretKey]) -> Check:
    where = gpg.home
    if key_variable_set(environ):
        where = f"the ephemeral keyring made from {KEY_VARIABLE} ({where})"
    if not keys:
        return Check(
            "secret keys",
            False,
            f"none in {where}",
            "import your secret key (gpg --import KEYFILE), or in CI set SECURE_UP_GPG_KEY "
            "to the output of `gpg --export-secret-keys --armor FINGERPRINT`",
        )
    return Check("secret keys", True, f"in {where}: " + ", ".join(k.describe() for k in keys))


def _secrets_file_checks(
    services: KeyServices, keys: list[SecretKey], secrets_files: list[Path] | SecureUpError
) -> Iterator[Check]:
    if isinstance(secrets_files, SecureUpError):
        yield Check("secrets files", False, secrets_files.what, secrets_files.fix)
        return
    if not secrets_files:
        yield Check(
            "secrets files",
            True,
            "none named (-s, SECURE_UP_SECRETS, x-secure-up in the compose file) and no "
            "secrets/environment.secrets",
        )
    for path in secrets_files:
        yield _secrets_file_check(services, keys, path)


def _secrets_file_check(services: KeyServices, keys: list[SecretKey], path: Path) -> Check:
    """Which of our keys can open ``path``: proven by opening its data key, then forgotten."""
    from secure_up.sopsfile import EncryptedFile

    item = f"secrets file {path}"
    try:
        metadata = EncryptedFile.read(path).metadata
        services.open_data_key(metadata)
    except SecureUpError as error:
        return Check(item, False, _one_line(error.what), error.fix)
    recipients = [key.fingerprint for group in metadata.key_groups for key in group.pgp]
    openers = [key.describe() for key in keys if any(key.matches(fp) for fp in recipients)]
    age_keys = [key for key in metadata.master_keys if key.kind == "age"]
    age = services.service("age") if age_keys else None
    if isinstance(age, AgeService):
        openers += [identity.describe() for key in age_keys for identity in age.holders(key)]
    return Check(item, True, "opened by " + (", ".join(openers) or "a key this machine holds"))


class _Probes:
    """Runs probes in the environment of the run, each argv once, with a timeout."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = dict(environ)
        self._answers: dict[tuple[str, ...], tuple[int, str]] = {}

    def which(self, name: str) -> str | None:
        return shutil.which(name, path=self.environ.get("PATH"))

    def run(self, argv: Sequence[str], timeout: float = PROBE_TIMEOUT) -> tuple[int, str]:
        """Exit code and combined output; 124 when it timed out, 126 or 127 when it cannot run."""
        key = tuple(argv)
        if key not in self._answers:
            result = capture(key, env=self.environ, timeout=timeout)
            output = (result.stdout + result.stderr).decode(errors="replace").strip()
            self._answers[key] = result.returncode, output
        return self._answers[key]


def _one_line(text: str) -> str:
    """A multi-line explanation (a list of recipients, say) as one line."""
    return "; ".join(line.strip(" -:") for line in text.splitlines() if line.strip(" -:"))


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


def _compose_check(probes: _Probes) -> Check:
    from secure_up.launch.compose import find_compose_command

    try:
        command = find_compose_command(
            probes.environ, probe=lambda argv: probes.run(argv)[0] == 0, which=probes.which
        )
    except SecureUpError as error:
        return Check("compose", False, error.what, error.fix)
    code, output = probes.run((*command, "version"))
    if code != 0:
        return Check(
            "compose",
            False,
            f"`{' '.join(command)} version` failed: {_first_line(output)}",
            "reinstall Docker Compose",
        )
    return Check("compose", True, f"{' '.join(command)}: {_first_line(output)}")


def _engine_check(probes: _Probes) -> Check:
    docker = probes.which("docker") or "docker"
    code, output = probes.run((docker, "info", "--format", "{{.ServerVersion}}"), ENGINE_TIMEOUT)
    if code == 0 and output:
        return Check("docker engine", True, f"Docker engine {_first_line(output)} answers")
    where = probes.environ.get("DOCKER_HOST") or "the default socket (/var/run/docker.sock)"
    return Check(
        "docker engine",
        False,
        f"no Docker engine answers at {where}: {output.splitlines()[-1] if output else code}",
        "start the engine (systemctl start docker, or Docker Desktop), check DOCKER_HOST and "
        "DOCKER_CONTEXT, and that your user may use it (the docker group)",
    )


def _config_check(environ: Mapping[str, str], explicit: Path | None, cwd: Path) -> Check:
    from secure_up.sopsfile.config import find_config, load_config

    try:
        path = find_config(cwd, explicit, environ)
        if path is None:
            return Check(
                ".sops.yaml", True, f"none in {cwd} or above (needed only to encrypt new files)"
            )
        rules = load_config(path).creation_rules
    except SecureUpError as error:
        return Check(".sops.yaml", False, error.what, error.fix)
    if rules is None:
        return Check(".sops.yaml", True, f"{path} (no creation_rules: sops ignores it)")
    return Check(".sops.yaml", True, f"{path} ({len(rules)} creation rule(s))")
