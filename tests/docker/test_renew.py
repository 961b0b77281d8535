"""``secure-up renew`` on the reference stack (deploy/) with the real engine and Compose v2.

One stack per module, started from a COPY of the secrets file (renew rewrites it), plus a
busybox service ``hook`` of the test's own that the generic ``exec`` applier drives. After
every test the copy, the database and the hook agree on one value (:func:`assert_agree`);
no value is ever printed by secure-up, nor on any argv while it runs (sampled from /proc).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from secure_up.launch.shellenv import parse_shell_env
from tests.docker.stack import (
    COMPOSE_FILES,
    DEMO_KEY,
    REPO_ROOT,
    SECRETS_FILE,
    Stack,
    http,
    wait_for,
)
from tests.docker.test_reference_stack import local_images  # noqa: F401 - a fixture

pytestmark = [pytest.mark.docker, pytest.mark.gpg]

HOOK_FILE = """\
services:
  hook:
    image: {image}
    network_mode: host
    command: ["sleep", "3600"]
    tmpfs: [/tmp]
    stop_signal: SIGKILL
x-secure-up:
  renew:
    DBPASS:
      postgres: {{service: db, roles: [wordcount_dbadmin, postgres]}}
      exec:
        service: hook
        command:
          - sh
          - -c
          - |
            IFS= read -r old; IFS= read -r new
            case "$$SECURE_UP_RENEW_ACTION" in
              apply) printf %s "$$new" > /tmp/value ;;
              revert) printf %s "$$old" > /tmp/value ;;
              verify) [ ! -e /tmp/fail-verify ] && [ "$$(cat /tmp/value)" = "$$new" ] ;;
            esac
"""


class Renewing:
    """The stack plus the copy of the secrets file that renew changes."""

    def __init__(self, stack: Stack, secrets: Path, gnupghome: Path) -> None:
        self.stack = stack
        self.secrets = secrets
        self.gnupghome = gnupghome

    def renew(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.stack.secure_up(
            "renew", "-s", str(self.secrets), *args, stdin=stdin, check=False
        )

    def start_renew(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "secure_up", "renew", "-s", str(self.secrets), *args],
            cwd=REPO_ROOT,
            env=self.stack.environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def file_value(self) -> str:
        """DBPASS as the real sops decrypts the copy."""
        plain = subprocess.run(
            ["sops", "decrypt", str(self.secrets)],
            env={**os.environ, "GNUPGHOME": str(self.gnupghome), "SOPS_DISABLE_VERSION_CHECK": "1"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return parse_shell_env(plain, "copy")["DBPASS"]

    def login(self, role: str, password: str) -> bool:
        """A TCP login into PostgreSQL with ``password`` (on stdin, as renew does)."""
        script = 'IFS= read -r PGPASSWORD; export PGPASSWORD; exec psql -w -h 127.0.0.1 "$@"'
        result = self.stack.secure_up(
            "compose", "-s", str(self.secrets), "--", "exec", "-T", "db", "sh", "-c", script,
            "sh", f"--username={role}", "--dbname=postgres", "--command=SELECT 1",
            stdin=password + "\n", check=False,
        )  # fmt: skip
        return result.returncode == 0

    def hook_value(self) -> str:
        return self.stack.compose(
            "exec", "-T", "hook", "cat", "/tmp/value", secrets_file=self.secrets, mask=False
        ).stdout

    def psql_admin(self, sql: str) -> None:
        self.stack.compose(
            "exec", "-T", "db", "psql", "--username=postgres", "--dbname=postgres",
            "--no-psqlrc", "--command", sql, secrets_file=self.secrets,
        )  # fmt: skip


@pytest.fixture(scope="module")
def renewing(
    local_images: None,  # noqa: F811
    busybox_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Renewing]:
    directory = tmp_path_factory.mktemp("renew")
    secrets = directory / "environment.secrets"
    shutil.copyfile(SECRETS_FILE, secrets)
    hook = directory / "hook.yaml"
    hook.write_text(HOOK_FILE.format(image=busybox_image))
    gnupghome = directory / "gnupg"
    gnupghome.mkdir(mode=0o700)
    subprocess.run(
        ["gpg", "--batch", "--quiet", "--import", str(DEMO_KEY)],
        env={**os.environ, "GNUPGHOME": str(gnupghome)},
        check=True,
        capture_output=True,
    )
    stack = Stack.create()
    stack.environment["COMPOSE_FILE"] = os.pathsep.join(map(str, [*COMPOSE_FILES, hook]))
    try:
        started = stack.start(secrets)
        assert started.returncode == 0, started.stderr
        stack.compose("up", "-d", "hook", secrets_file=secrets)
        renewing = Renewing(stack, secrets, gnupghome)
        # The hook starts out holding the current value, as a real system would.
        old = renewing.file_value()
        seeded = subprocess.run(
            [sys.executable, "-m", "secure_up", "compose", "-s", str(secrets), "--", "exec",
             "-T", "hook", "sh", "-c", "cat > /tmp/value"],
            input=old, text=True, cwd=REPO_ROOT, env=stack.environment, check=False,
            capture_output=True,
        )  # fmt: skip
        assert seeded.returncode == 0, seeded.stderr
        wait_healthy(stack)
        yield renewing
    finally:
        stack.remove()


def wait_healthy(stack: Stack) -> dict[str, str]:
    reply = wait_for("the app's /healthz", lambda: http(f"{stack.url}/healthz"))
    assert reply.status == 200, reply.body
    body: dict[str, str] = reply.json()
    return body


def assert_agree(renewing: Renewing, *, old: str | None = None) -> str:
    """File, database roles and hook hold one value; ``old`` (if given) is refused."""
    value = renewing.file_value()
    for role in ("wordcount_dbadmin", "postgres"):
        assert renewing.login(role, value), f"{role} does not accept the file's value"
        if old is not None and old != value:
            assert not renewing.login(role, old), f"{role} still accepts the old value"
    assert renewing.hook_value() == value
    return value


def assert_quiet(output: str, *values: str) -> None:
    for value in values:
        assert value not in output, "a secret value was printed"


class ArgvSampler:
    """Every command line on the machine, sampled from /proc while a renewal runs."""

    def __init__(self) -> None:
        self.seen: set[bytes] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ArgvSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    try:
                        self.seen.add((entry / "cmdline").read_bytes())
                    except OSError:
                        pass
            time.sleep(0.01)

    def holds(self, value: str) -> bool:
        return any(value.encode() in line for line in self.seen)


def test_dry_run_prints_the_plan_and_changes_nothing(renewing: Renewing) -> None:
    before = renewing.secrets.read_bytes()
    result = renewing.renew("--dry-run", "DBPASS")
    assert result.returncode == 0, result.stderr
    assert "ALTER ROLE wordcount_dbadmin, postgres" in result.stdout
    assert "exec" in result.stdout
    assert "hook" in result.stdout
    assert "recreate: app, migrations, worker" in result.stdout
    assert renewing.secrets.read_bytes() == before


def test_renew_generates_applies_tests_writes_and_restarts(renewing: Renewing) -> None:
    old = renewing.file_value()
    with ArgvSampler() as argv:
        result = renewing.renew("--generate", "--json", "DBPASS")
    assert result.returncode == 0, result.stderr + result.stdout
    new = renewing.file_value()
    assert new != old
    report = json.loads(result.stdout)
    assert report["result"] == "done"
    assert {s["service"]: s["ok"] for s in report["services"]} == {"app": True, "worker": True}
    assert not argv.holds(old), "the old value was on an argv"
    assert not argv.holds(new), "the new value was on an argv"
    assert len(argv.seen) > 20  # the sampler did see the run's processes
    assert_quiet(result.stdout + result.stderr, old, new)
    assert_agree(renewing, old=old)
    assert wait_healthy(renewing.stack)["user"] == "wordcount_dbadmin"
    assert not Path(f"{renewing.secrets}.renew.yaml").exists()


def test_a_wrong_old_password_changes_nothing(renewing: Renewing) -> None:
    """The applier cannot log in (`postgres` was changed behind our back): nothing changes."""
    old = renewing.file_value()
    before = renewing.secrets.read_bytes()
    renewing.psql_admin("ALTER ROLE postgres PASSWORD 'not-the-file-value'")
    try:
        result = renewing.renew("--generate", "DBPASS")
        assert result.returncode != 0
        assert "role postgres accepts neither" in result.stderr
        assert "nothing was changed" in result.stderr
        assert renewing.secrets.read_bytes() == before
        assert renewing.login("wordcount_dbadmin", old)
        assert_quiet(result.stdout + result.stderr, old)
    finally:
        renewing.stack.psql(f"ALTER ROLE postgres PASSWORD '{old}'")
    assert_agree(renewing)


def test_a_stopped_database_changes_nothing(renewing: Renewing) -> None:
    before = renewing.secrets.read_bytes()
    renewing.stack.compose("stop", "db", secrets_file=renewing.secrets)
    try:
        result = renewing.renew("--generate", "DBPASS")
        assert result.returncode != 0
        assert renewing.secrets.read_bytes() == before
        assert not Path(f"{renewing.secrets}.renew.yaml").exists()
    finally:
        renewing.stack.compose("start", "db", secrets_file=renewing.secrets)
    wait_for(
        "db to accept logins", lambda: renewing.login("postgres", renewing.file_value()) or None
    )
    assert_agree(renewing)


def test_a_failing_test_step_rolls_back_database_and_hook(renewing: Renewing) -> None:
    old = renewing.file_value()
    before = renewing.secrets.read_bytes()
    renewing.stack.compose("exec", "-T", "hook", "sh", "-c", "echo > /tmp/fail-verify",
                           secrets_file=renewing.secrets)  # fmt: skip
    try:
        result = renewing.renew("--generate", "DBPASS")
        assert result.returncode != 0
        assert "verify hook" in result.stderr
        assert "the old value was put back" in result.stderr
        assert renewing.secrets.read_bytes() == before
    finally:
        renewing.stack.compose("exec", "-T", "hook", "busybox", "rm", "-f", "/tmp/fail-verify",
                               secrets_file=renewing.secrets)  # fmt: skip
    assert_agree(renewing, old=None)
    assert renewing.file_value() == old


def test_a_service_not_coming_back_is_named_and_resume_finishes(renewing: Renewing) -> None:
    old = renewing.file_value()
    result = renewing.renew("--generate", "--timeout", "0", "DBPASS")
    assert result.returncode != 0
    assert "not every service came back" in result.stderr
    assert "secure-up renew --resume" in result.stderr
    new = assert_agree(renewing, old=old)  # file and database agree on the new value
    resumed = renewing.renew("--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert_quiet(result.stderr + resumed.stderr + resumed.stdout, old, new)
    wait_healthy(renewing.stack)


@pytest.mark.parametrize(
    ("step", "then"),
    [("applying", "--abort"), ("testing", "--resume"), ("recreating", "--resume")],
)
def test_kill_9_at_a_step_then_resume_or_abort(renewing: Renewing, step: str, then: str) -> None:
    old = renewing.file_value()
    process = renewing.start_renew("--generate", "DBPASS")
    assert process.stdout is not None
    output = ""
    for line in process.stdout:
        output += line
        if line.startswith(f"renew: {step}"):
            os.killpg(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, output
    status = renewing.stack.secure_up("check", "-s", str(renewing.secrets), check=False)
    assert "renewal of DBPASS" in status.stdout + status.stderr
    second = renewing.renew("--generate", "DBPASS")
    assert second.returncode != 0
    assert "--resume" in second.stderr
    finished = renewing.renew(then)
    assert finished.returncode == 0, finished.stderr + finished.stdout
    value = assert_agree(renewing, old=old if then == "--resume" else None)
    assert (value == old) == (then == "--abort")
    assert not Path(f"{renewing.secrets}.renew.yaml").exists()
    assert_quiet(output + finished.stdout + finished.stderr, old, value)
    wait_healthy(renewing.stack)
