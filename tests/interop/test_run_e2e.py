"""``secure-up run -- CMD`` through the real command line, without Docker.

Each test starts ``python -m secure_up run ...`` as a real process with the test
keyring, on sops files that ``secure-up encrypt`` made at test time, and looks
only at what a user would see: the child's exit status, its output (masked or
not), what it received on stdin, in its environment and as signals.

The secret values here are test data: the children print them on purpose, to
prove they are masked (or, with ``--no-mask``, that they arrive intact).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from secure_up.system.process import PRISTINE_NAMES, PRISTINE_PREFIXES
from tests.conftest import GpgKeys
from tests.interop.test_shellenv_bash import sourced_by_bash

pytestmark = [pytest.mark.gpg, pytest.mark.timeout(120)]

SECURE_UP = [sys.executable, "-m", "secure_up"]
PYTHON = sys.executable

#: A dotenv file: the rest of the line is the value, quotes and all (no quote handling).
SECRETS = {
    "PASSWORD": "p@ss w0rd $HOME 'sq' \"dq\" back\\slash",
    "API_TOKEN": "tok-4f9c2a7e%41-end",
    "PIN": "123",  # too short to mask
}
MASKED = {name: value for name, value in SECRETS.items() if len(value) >= 4}

#: A child that prints the names of its environment variables, as JSON.
PRINT_NAMES = "import json, os; print(json.dumps(sorted(os.environ)))"
#: A child that prints the variables named in argv (values), as JSON.
PRINT_VALUES = (
    "import json, os, sys; print(json.dumps({n: os.environ.get(n) for n in sys.argv[1:]}))"
)
#: A child that counts the signal named in argv[1] until things are quiet for a second.
COUNT_SIGNAL = """
import signal, sys, time
received = []
signal.signal(int(sys.argv[1]), lambda number, frame: received.append(number))
print("ready", flush=True)
deadline = time.monotonic() + 30
while not received and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(1.0)  # a second copy of the signal, if any, arrives meanwhile
print(f"received {len(received)}", flush=True)
"""
#: A child that writes PASSWORD in two writes, apart in time, and to stderr whole.
SPLIT_WRITE = """
import os, time
value = os.environ["PASSWORD"].encode()
os.write(1, b"before " + value[:5])
time.sleep(0.02)  # a pause shorter than the idle delay after which held bytes show
os.write(1, value[5:] + b" after\\n")
os.write(2, b"err " + value + b"\\n")
"""


@pytest.fixture(scope="module")
def secrets_file(gpg_keys: GpgKeys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sops dotenv file holding :data:`SECRETS`, made with ``secure-up encrypt``."""
    directory = tmp_path_factory.mktemp("run-e2e")
    return encrypted(gpg_keys, directory, "secrets.env", dotenv(SECRETS))


def dotenv(values: Mapping[str, str]) -> str:
    return "".join(f"{name}={value}\n" for name, value in values.items())


def encrypted(keys: GpgKeys, directory: Path, name: str, plaintext: str) -> Path:
    """``directory/name`` encrypted by ``secure-up encrypt``; the plaintext is removed."""
    plain = directory / f"plain-{name}"
    plain.write_text(plaintext, encoding="utf-8")
    result = subprocess.run(
        [*SECURE_UP, "encrypt", "--pgp", keys.fingerprints[0], str(plain)],
        env=environment(keys),
        cwd=directory,
        capture_output=True,
        check=True,
        timeout=60,
    )
    plain.unlink()
    target = directory / name
    target.write_bytes(result.stdout)
    return target


def environment(keys: GpgKeys, **extra: str) -> dict[str, str]:
    """Ours, less secure-up's settings and GitHub's marker, with the test keyring."""
    base = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("SECURE_UP_") and name != "GITHUB_ACTIONS"
    }
    return {**base, "GNUPGHOME": str(keys.home), **extra}


def run(
    keys: GpgKeys, *args: str, stdin: bytes = b"", **extra_env: str
) -> subprocess.CompletedProcess[bytes]:
    """``secure-up ARGS`` to completion, outside any terminal."""
    return subprocess.run(
        [*SECURE_UP, *args],
        input=stdin,
        capture_output=True,
        env=environment(keys, **extra_env),
        cwd=keys.home.parent,
        timeout=60,
        check=False,
        start_new_session=True,
    )


@pytest.fixture
def start(gpg_keys: GpgKeys) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Starts ``secure-up ARGS`` in the background, without a terminal; kills what is left."""
    started: list[subprocess.Popen[bytes]] = []

    def starter(*args: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [*SECURE_UP, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment(gpg_keys),
            cwd=gpg_keys.home.parent,
            start_new_session=True,  # no controlling terminal: SIGINT is relayed too
        )
        started.append(process)
        return process

    yield starter
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def assert_no_value_in(*outputs: bytes) -> None:
    for output in outputs:
        leaked = [name for name, value in MASKED.items() if value.encode() in output]
        assert not leaked, f"the values of {leaked} were printed"


# -- exit codes -----------------------------------------------------------------------------


@pytest.mark.parametrize("no_mask", [False, True], ids=["masked", "exec"])
@pytest.mark.parametrize(
    ("command", "expected"),
    [(["sh", "-c", "exit 42"], 42), (["true"], 0), (["no-such-program-here"], 127)],
    ids=["exit-42", "exit-0", "not-found"],
)
def test_the_exit_code_is_the_childs(
    gpg_keys: GpgKeys, secrets_file: Path, command: list[str], expected: int, no_mask: bool
) -> None:
    flags = ["--no-mask"] if no_mask else []
    result = run(gpg_keys, "run", "-s", str(secrets_file), *flags, "--", *command)
    assert result.returncode == expected, result.stderr.decode()


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT])
def test_a_child_killed_by_signal_n_gives_128_plus_n(
    gpg_keys: GpgKeys, secrets_file: Path, number: signal.Signals
) -> None:
    command = f"kill -{number.name.removeprefix('SIG')} $$"
    result = run(gpg_keys, "run", "-s", str(secrets_file), "--", "sh", "-c", command)
    assert result.returncode == 128 + number


def test_without_masking_the_child_replaces_us_and_its_death_is_seen_directly(
    gpg_keys: GpgKeys, secrets_file: Path
) -> None:
    """--no-mask execs the child: the caller sees the signal itself, as with the bare command."""
    args = ["run", "--no-mask", "-s", str(secrets_file), "--", "sh", "-c", "kill -TERM $$"]
    assert run(gpg_keys, *args).returncode == -signal.SIGTERM


# -- signals and stdin ----------------------------------------------------------------------


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_to_us_reaches_the_child_once(
    start: Callable[..., subprocess.Popen[bytes]], secrets_file: Path, number: signal.Signals
) -> None:
    """The child keeps running after the signal; its exit code (0) becomes ours."""
    process = start(
        "run", "-s", str(secrets_file), "--", PYTHON, "-c", COUNT_SIGNAL, str(int(number))
    )
    assert process.stdout is not None
    assert process.stdout.readline() == b"ready\n"
    process.send_signal(number)
    stdout, stderr = process.communicate(timeout=30)
    assert stdout == b"received 1\n", stderr.decode()
    assert process.returncode == 0


def test_stdin_passes_through_unchanged(gpg_keys: GpgKeys, secrets_file: Path) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB, every byte value, no secret
    result = run(gpg_keys, "run", "-s", str(secrets_file), "--", "cat", stdin=data)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == data


# -- masking --------------------------------------------------------------------------------


def test_values_are_masked_even_when_written_in_pieces(
    gpg_keys: GpgKeys, secrets_file: Path
) -> None:
    result = run(gpg_keys, "run", "-s", str(secrets_file), "--", PYTHON, "-c", SPLIT_WRITE)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b"before ***** after\n"
    assert result.stderr == b"err *****\n"


def test_every_value_is_masked_and_short_ones_are_left_alone(
    gpg_keys: GpgKeys, secrets_file: Path
) -> None:
    names = list(SECRETS)
    result = run(gpg_keys, "run", "-s", str(secrets_file), "--", PYTHON, "-c", PRINT_VALUES, *names)
    assert result.returncode == 0, result.stderr.decode()
    assert_no_value_in(result.stdout, result.stderr)
    printed = json.loads(result.stdout)
    assert printed == {name: "*****" if name in MASKED else SECRETS[name] for name in names}


def test_no_mask_hands_the_exact_values_over(gpg_keys: GpgKeys, secrets_file: Path) -> None:
    result = run(
        gpg_keys,
        "run",
        "--no-mask",
        "-s",
        str(secrets_file),
        "--",
        PYTHON,
        "-c",
        PRINT_VALUES,
        *SECRETS,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout) == SECRETS


def test_under_github_actions_stdout_holds_no_value_and_add_mask_is_opt_in(
    gpg_keys: GpgKeys, secrets_file: Path
) -> None:
    # `secure-up run -- echo ... > build.log` or `V=$(...)`: stdout is what the user keeps.
    args = ("run", "-s", str(secrets_file), "--", PYTHON, "-c", PRINT_VALUES, *MASKED)
    default = run(gpg_keys, *args, GITHUB_ACTIONS="true")
    assert default.returncode == 0, default.stderr.decode()
    assert_no_value_in(default.stdout, default.stderr)
    opted_in = run(gpg_keys, *args, GITHUB_ACTIONS="true", SECURE_UP_GITHUB_MASK="1")
    assert opted_in.returncode == 0, opted_in.stderr.decode()
    assert_no_value_in(opted_in.stdout)
    announced = opted_in.stderr.decode().splitlines()
    expected = {"::add-mask::" + value.replace("%", "%25") for value in MASKED.values()}
    assert set(announced) == expected  # on stderr, a pipe: what the runner reads
    assert len(announced) == len(expected)


# -- the child's environment ----------------------------------------------------------------


def child_names(result: subprocess.CompletedProcess[bytes]) -> set[str]:
    assert result.returncode == 0, result.stderr.decode()
    names: list[str] = json.loads(result.stdout)
    return set(names)


def test_pristine_gives_only_the_allow_list_and_the_secrets(
    gpg_keys: GpgKeys, secrets_file: Path
) -> None:
    args = ["run", "--pristine", "-s", str(secrets_file), "--", PYTHON, "-c", PRINT_NAMES]
    names = child_names(
        run(gpg_keys, *args, STRAY_VARIABLE="from the shell", COMPOSE_PROJECT_NAME="kept")
    )
    assert {"PATH", "HOME", "COMPOSE_PROJECT_NAME", *SECRETS} <= names
    allowed = {
        name for name in names if name in PRISTINE_NAMES or name.startswith(PRISTINE_PREFIXES)
    }
    assert names - allowed == set(SECRETS)


def test_without_pristine_the_environment_is_inherited(
    gpg_keys: GpgKeys, secrets_file: Path
) -> None:
    args = ["run", "-s", str(secrets_file), "--", PYTHON, "-c", PRINT_NAMES]
    names = child_names(run(gpg_keys, *args, STRAY_VARIABLE="from the shell"))
    assert {"STRAY_VARIABLE", "GNUPGHOME", *SECRETS} <= names


def test_our_own_settings_stay_with_us(gpg_keys: GpgKeys, secrets_file: Path) -> None:
    """SECURE_UP_SECRETS is read (the secrets arrive) but not handed on, nor any SECURE_UP_*."""
    names = child_names(
        run(
            gpg_keys,
            "run",
            "--",
            PYTHON,
            "-c",
            PRINT_NAMES,
            SECURE_UP_SECRETS=str(secrets_file),
            SECURE_UP_GPG_PASSPHRASE="not for the child",
        )
    )
    assert set(SECRETS) <= names
    assert not {name for name in names if name.startswith("SECURE_UP_")}


SHELL_FILE = r"""# the book's file, and the quoting people use in it
export DBPASS=MYPASS
export DBUSER='it'"'"'s me'
export QUOTED="dq \"inner\" \$HOME \\ back\`tick"
export ANSI=$'tab\there\nnew line \x41'
export SPACED=two\ words   # a comment after the value

export COPY="$DBPASS-copy"
export MULTI='line one
line two'
UNEXPORTED=plain; export ALSO=1
export UNICODE='héllo wörld ✓'
export EMPTY=
"""


def test_a_binary_shell_file_gives_what_bash_source_gives(
    gpg_keys: GpgKeys, tmp_path: Path
) -> None:
    (tmp_path / "bash").mkdir()
    expected = sourced_by_bash(SHELL_FILE, tmp_path / "bash")
    assert len(expected) == 11  # the file is read as intended by bash itself
    encrypted_dir = tmp_path / "encrypted"
    encrypted_dir.mkdir()
    path = encrypted(gpg_keys, encrypted_dir, "environment.secrets", SHELL_FILE)
    result = run(
        gpg_keys, "run", "--no-mask", "-s", str(path), "--", PYTHON, "-c", PRINT_VALUES, *expected
    )
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout) == expected
