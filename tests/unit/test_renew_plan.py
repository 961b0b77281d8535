"""The pure parts of ``renew``: the plan, the verifier, what the appliers send."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from secure_up.errors import FormatError
from secure_up.renew.exec import ExecApplier
from secure_up.renew.interface import ApplierError
from secure_up.renew.plan import plan_renewal, unrenewable_database_secrets, validate_block
from secure_up.renew.postgres import PostgresApplier, scram_sha256_verifier
from secure_up.renew.redis import RedisApplier, quoted

COMPOSE = """\
x-secure-up:
  renew:
    DBPASS:
      postgres: {service: db, roles: [app_user, postgres]}
      exec: {service: hook, command: [sh, -c, 'echo $$PWD']}
services:
  db:
    image: postgres:16
    environment: {POSTGRES_PASSWORD: "${DBPASS}"}
  app:
    image: app
    environment: {URL: "postgresql://u:${DBPASS}@db/x", OTHER: "${TOKEN}"}
  worker:
    image: app
    environment: {URL: "postgresql://u:${DBPASS}@db/x"}
  cache:
    image: redis:7
    command: ["redis-server", "--requirepass", "${REDISPASS}"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    return path


def test_plan_lists_appliers_and_the_services_that_use_the_variable(tmp_path: Path) -> None:
    plan = plan_renewal([write(tmp_path, COMPOSE)], ["DBPASS"])
    (secret,) = plan.secrets
    assert [(spec.kind, spec.service) for spec in secret.appliers] == [
        ("postgres", "db"),
        ("exec", "hook"),
    ]
    assert secret.appliers[1].options["command"] == ["sh", "-c", "echo $PWD"]
    assert secret.restart == ["app", "worker"]  # db, the applier's own service, stays up
    assert not secret.restart_declared


def test_a_declared_restart_list_wins(tmp_path: Path) -> None:
    text = COMPOSE.replace("      exec:", "      restart: [app]\n      exec:")
    (secret,) = plan_renewal([write(tmp_path, text)], ["DBPASS"]).secrets
    assert secret.restart == ["app"]
    assert secret.restart_declared


def test_an_undeclared_secret_is_refused_with_the_block_to_add(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match=r"TOKEN has no entry in x-secure-up\.renew") as error:
        plan_renewal([write(tmp_path, COMPOSE)], ["TOKEN"])
    assert "postgres: {service: db" in (error.value.fix or "")


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ("postgres: {service: db}", "renew.DBPASS.postgres.roles must be"),
        ("mysql: {service: db}", "renew.DBPASS.mysql must be one of"),
        ("postgres: {service: db, roles: [a], pasword: x}", "postgres.pasword must be"),
        ("exec: {service: h, command: 'a string'}", "exec.command must be"),
        ("restart: app", "restart must be a list"),
    ],
)
def test_check_names_what_is_wrong_in_the_block(tmp_path: Path, entry: str, complaint: str) -> None:
    text = f"x-secure-up:\n  renew:\n    DBPASS:\n      {entry}\nservices: {{}}\n"
    (problem,) = validate_block([write(tmp_path, text)])
    assert complaint in problem


def test_a_database_secret_without_an_applier_is_found(tmp_path: Path) -> None:
    found = unrenewable_database_secrets([write(tmp_path, COMPOSE)], ["DBPASS", "REDISPASS"])
    assert found == [("REDISPASS", "cache")]


def test_the_scram_verifier_has_postgresql_s_form_and_rfc_5802_keys() -> None:
    salt = b"0123456789abcdef"
    verifier = scram_sha256_verifier("pencil", salt=salt)
    method, rest = verifier.split("$", 1)
    params, keys = rest.split("$")
    iterations, salt64 = params.split(":")
    stored64, server64 = keys.split(":")
    assert (method, iterations, base64.b64decode(salt64)) == ("SCRAM-SHA-256", "4096", salt)
    salted = hashlib.pbkdf2_hmac("sha256", b"pencil", salt, 4096)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    assert base64.b64decode(stored64) == hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    assert base64.b64decode(server64) == server_key
    assert scram_sha256_verifier("pencil") != scram_sha256_verifier("pencil")  # fresh salt


@dataclass
class Result:
    code: int
    output: str


@dataclass
class FakeShell:
    """A ServiceShell that records calls and answers from a script of results."""

    answers: list[Result]
    calls: list[tuple[str, list[str], bytes, dict[str, str]]] = field(default_factory=list)

    def exec(
        self,
        service: str,
        command: list[str],
        *,
        stdin: bytes,
        environment: dict[str, str] | None = None,
    ) -> Result:
        self.calls.append((service, command, stdin, environment or {}))
        return self.answers.pop(0)


OLD, NEW = "old-Secret-1", "new-Secret-2"
REFUSED = Result(2, 'psql: FATAL:  password authentication failed for user "a"')


def test_postgres_sends_values_on_stdin_and_a_verifier_not_the_password() -> None:
    shell = FakeShell([Result(0, "")])
    PostgresApplier(shell, "db", {"roles": ["a"]}).apply(OLD, NEW)
    ((service, argv, stdin, _),) = shell.calls
    assert service == "db"
    assert not any(OLD in part or NEW in part for part in argv)
    first, sql = stdin.decode().split("\n", 1)
    assert first == OLD
    assert "ALTER ROLE CURRENT_USER PASSWORD 'SCRAM-SHA-256$4096:" in sql
    assert NEW not in sql


def test_postgres_apply_is_idempotent_when_the_new_value_is_in_place() -> None:
    shell = FakeShell([REFUSED, Result(0, "")])  # old refused, new logs in
    PostgresApplier(shell, "db", {"roles": ["a"]}).apply(OLD, NEW)
    assert shell.calls[1][2].decode().startswith(NEW + "\n")


def test_postgres_refuses_a_trusting_server() -> None:
    shell = FakeShell([Result(0, "")])  # a random password got in
    with pytest.raises(ApplierError, match="trust"):
        PostgresApplier(shell, "db", {"roles": ["a"]}).preflight(OLD, NEW)


def test_postgres_verify_fails_while_the_old_value_still_logs_in() -> None:
    shell = FakeShell([Result(0, ""), Result(0, "")])
    with pytest.raises(ApplierError, match="old value still succeeds"):
        PostgresApplier(shell, "db", {"roles": ["a"]}).verify(OLD, NEW)


def test_redis_quotes_every_byte_and_keeps_values_off_the_argv() -> None:
    assert quoted('a"\n') == '"\\x61\\x22\\x0a"'
    shell = FakeShell([Result(0, "OK\nOK\n")])
    RedisApplier(shell, "cache", {"user": "app"}).apply(OLD, NEW)
    ((_, argv, stdin, _),) = shell.calls
    assert not any(OLD in part for part in argv)
    assert OLD not in stdin.decode()  # escaped, every byte
    assert stdin.decode().splitlines()[1].startswith("ACL SETUSER app ")


def test_exec_hook_gets_old_and_new_on_stdin_and_the_action_in_its_environment() -> None:
    shell = FakeShell([Result(0, ""), Result(3, "no way\n")])
    hook = ExecApplier(shell, "hook", {"command": ["/renew"]}, "DBPASS")
    hook.apply(OLD, NEW)
    assert shell.calls[0][2] == f"{OLD}\n{NEW}\n".encode()
    assert shell.calls[0][3] == {"SECURE_UP_RENEW_ACTION": "apply", "SECURE_UP_RENEW_KEY": "DBPASS"}
    with pytest.raises(ApplierError, match="verify hook /renew exited 3: no way"):
        hook.verify(OLD, NEW)
