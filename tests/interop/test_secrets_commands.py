"""set, unset, rotate, updatekeys and edit, run as real processes, checked by the real sops.

Files are made by the real sops; the commands run in a subprocess with the
test keyring (``python -m secure_up``, the stand-in command
line until cli.py wires them; then ``RUN`` becomes ``python -m secure_up``);
every result is read back by the real sops (``--extract``) or, for the
shell payload of a binary file, by the real bash.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import GpgKeys, Sops

pytestmark = [pytest.mark.sops, pytest.mark.gpg]

RUN = [sys.executable, "-m", "secure_up"]
ENC = re.compile(r"ENC\[AES256_GCM,[^\]]*\]")
#: Quotes, a dollar, a backslash, comment and separator characters: each format's hard cases.
TRICKY = "p@ss w0rd 'q' \"dq\" $HOME \\ #h;s=x"


def secure_up(
    keys: GpgKeys,
    *args: str,
    stdin: bytes | None = b"",
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    full_env = {**keys.env, **(env or {})}
    result = subprocess.run(
        [*RUN, *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env=full_env,
        timeout=120,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}: {result.stderr.decode()}")
    return result


def extract(sops: Sops, path: Path, key_path: str) -> str:
    return sops.run("decrypt", "--extract", key_path, str(path)).stdout.decode()


def bash_value(sops: Sops, path: Path, name: str) -> str:
    """What `source` of the decrypted payload gives ``name``, asked of the real bash."""
    plaintext = sops.decrypt(path)
    script = f'set -a; source /dev/stdin; printf %s "${{{name}-<unset>}}"'
    return subprocess.run(
        ["bash", "--norc", "-c", script],
        input=plaintext,
        capture_output=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
    ).stdout.decode()


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str
    plaintext: str
    existing: str  # key of a value that exists
    existing_path: str  # the same as a --extract path
    new: str  # a key that does not exist yet
    new_path: str


FORMATS = [
    Format(
        "yaml",
        ".yaml",
        "# top comment\ndb:\n    user: admin\n    # the password\n    password: old-pass\n"
        "port: 5432\n",
        '["db"]["password"]',
        '["db"]["password"]',
        "NEWKEY",
        '["NEWKEY"]',
    ),
    Format(
        "json",
        ".json",
        json.dumps({"db": {"user": "admin", "password": "old-pass"}, "port": 5432}),
        '["db"]["password"]',
        '["db"]["password"]',
        "NEWKEY",
        '["NEWKEY"]',
    ),
    Format(
        "dotenv",
        ".env",
        "# comment\nUSER=admin\nPASSWORD=old-pass\n",
        "PASSWORD",
        '["PASSWORD"]',
        "NEWKEY",
        '["NEWKEY"]',
    ),
    Format(
        "ini",
        ".ini",
        "[db]\nuser = admin\npassword = old-pass\n",
        '["db"]["password"]',
        '["db"]["password"]',
        "NEWKEY",
        '["DEFAULT"]["NEWKEY"]',
    ),
]
SHELL_PAYLOAD = (
    "# the book's environment.secrets\nexport USER=admin\nexport PASSWORD='old-pass'\n"
    "export MULTI='line one\nline two'\nexport PORT=5432\n"
)


def sops_file(sops: Sops, directory: Path, name: str, plaintext: str, *extra: str) -> Path:
    """A file as the real sops encrypts it (for the first test key)."""
    source = directory / f"plain-{name}"
    source.write_text(plaintext)
    target = directory / name
    target.write_bytes(sops.encrypt(source, *extra))
    source.unlink()
    return target


@pytest.fixture
def shell_file(sops: Sops, tmp_path: Path) -> Path:
    return sops_file(sops, tmp_path, "environment.secrets", SHELL_PAYLOAD)


# -- set and unset -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda fmt: fmt.name)
def test_set_on_files_sops_wrote(sops: Sops, tmp_path: Path, fmt: Format) -> None:
    path = sops_file(sops, tmp_path, f"app{fmt.suffix}", fmt.plaintext)
    before = ENC.findall(path.read_text())
    path.chmod(0o640)

    secure_up(sops.keys, "set", str(path), fmt.existing, stdin=TRICKY.encode() + b"\n")
    secure_up(sops.keys, "set", str(path), fmt.new, stdin=b"brand new")

    assert extract(sops, path, fmt.existing_path) == TRICKY
    assert extract(sops, path, fmt.new_path) == "brand new"
    after = path.read_text()
    # Only the changed value (and the MAC) got a new ciphertext; all others kept theirs.
    assert len(set(before) - set(ENC.findall(after))) == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert TRICKY not in after
    assert "brand new" not in after


def test_set_keeps_yaml_comments_and_key_order(sops: Sops, tmp_path: Path) -> None:
    path = sops_file(sops, tmp_path, "app.yaml", FORMATS[0].plaintext)
    secure_up(sops.keys, "set", str(path), '["db"]["user"]', stdin=b"root")
    secure_up(sops.keys, "set", str(path), '["new"]["deep"]', stdin=b"created")
    assert sops.decrypt(path).decode() == (
        "# top comment\ndb:\n    user: root\n    # the password\n    password: old-pass\n"
        "port: 5432\nnew:\n    deep: created\n"
    )


def test_set_in_the_shell_payload_keeps_other_lines_byte_identical(
    sops: Sops, shell_file: Path
) -> None:
    secure_up(sops.keys, "set", str(shell_file), "PASSWORD", stdin=TRICKY.encode())
    secure_up(sops.keys, "set", str(shell_file), "MULTI", stdin=b"x\ny'z\n\n")
    secure_up(sops.keys, "set", str(shell_file), "ADDED", stdin=b"new-value")
    assert bash_value(sops, shell_file, "PASSWORD") == TRICKY
    assert bash_value(sops, shell_file, "MULTI") == "x\ny'z\n"
    assert bash_value(sops, shell_file, "ADDED") == "new-value"
    lines = sops.decrypt(shell_file).decode().splitlines()
    assert lines[:2] == ["# the book's environment.secrets", "export USER=admin"]
    assert lines[-2:] == ["export PORT=5432", "export ADDED='new-value'"]


def test_unset_in_the_shell_payload_and_every_format(sops: Sops, shell_file: Path) -> None:
    secure_up(sops.keys, "unset", str(shell_file), "MULTI")
    assert sops.decrypt(shell_file).decode() == (
        "# the book's environment.secrets\nexport USER=admin\nexport PASSWORD='old-pass'\n"
        "export PORT=5432\n"
    )
    for fmt in FORMATS:
        path = sops_file(sops, shell_file.parent, f"u{fmt.suffix}", fmt.plaintext)
        secure_up(sops.keys, "unset", str(path), fmt.existing)
        missing = sops.run("decrypt", "--extract", fmt.existing_path, str(path), check=False)
        assert missing.returncode != 0, fmt.name


def test_unset_of_a_missing_key_changes_nothing(sops: Sops, shell_file: Path) -> None:
    before = shell_file.read_bytes()
    result = secure_up(sops.keys, "unset", str(shell_file), "NOPE", check=False)
    assert result.returncode == 1
    assert b"sets no NOPE" in result.stderr
    assert shell_file.read_bytes() == before


def test_generate_and_show_prints_the_stored_value_once(sops: Sops, shell_file: Path) -> None:
    result = secure_up(
        sops.keys,
        "set",
        str(shell_file),
        "TOKEN",
        "--generate",
        "--length",
        "40",
        "--charset",
        "hex",
        "--show",
    )
    shown = result.stdout.decode()
    assert re.fullmatch(r"[0-9a-f]{40}\n", shown)
    assert bash_value(sops, shell_file, "TOKEN") == shown.strip()
    assert shown.strip().encode() not in result.stderr
    quiet = secure_up(sops.keys, "set", str(shell_file), "TOKEN", "--generate")
    assert quiet.stdout == b""
    assert re.fullmatch(r"[A-Za-z0-9]{32}", bash_value(sops, shell_file, "TOKEN"))


def test_an_empty_pipe_sets_an_empty_value_and_dev_null_sets_none(
    sops: Sops, shell_file: Path
) -> None:
    secure_up(sops.keys, "set", str(shell_file), "EMPTY", stdin=b"")
    assert bash_value(sops, shell_file, "EMPTY") == ""
    before = shell_file.read_bytes()
    with open(os.devnull, "rb") as null:
        result = subprocess.run(
            [*RUN, "set", str(shell_file), "X"],
            stdin=null,
            capture_output=True,
            env=sops.keys.env,
            timeout=120,
            check=False,
        )
    assert result.returncode == 1
    assert b"/dev/null" in result.stderr
    assert b"--generate" in result.stderr
    assert shell_file.read_bytes() == before


def test_set_refuses_a_key_that_is_not_a_shell_name(sops: Sops, shell_file: Path) -> None:
    result = secure_up(sops.keys, "set", str(shell_file), "2BAD", stdin=b"v", check=False)
    assert result.returncode == 2
    assert b"not a shell variable name" in result.stderr


def test_the_value_never_appears_in_any_command_line(sops: Sops, shell_file: Path) -> None:
    """A slow writer keeps `set` (and its gpg) running while we scan every /proc/*/cmdline."""
    value = "Sup3r-" + os.urandom(8).hex()
    process = subprocess.Popen(
        [*RUN, "set", str(shell_file), "SCANNED"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=sops.keys.env,
    )
    seen: list[str] = []
    scans = 0
    done = threading.Event()

    def scan() -> None:
        nonlocal scans
        while not done.is_set():
            scans += 1
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    if value.encode() in cmdline.read_bytes():
                        seen.append(str(cmdline))
                except OSError:
                    pass

    scanner = threading.Thread(target=scan)
    scanner.start()
    assert process.stdin is not None
    for part in (value[:6], value[6:]):
        process.stdin.write(part.encode())
        process.stdin.flush()
        time.sleep(0.5)
    process.stdin.close()
    process.wait(timeout=60)
    done.set()
    scanner.join()
    assert process.returncode == 0
    assert scans > 3
    assert not seen
    assert bash_value(sops, shell_file, "SCANNED") == value


# -- rotate --------------------------------------------------------------------------------------


def test_rotate_makes_a_new_data_key_and_changes_recipients(
    sops: Sops, tmp_path: Path, gpg_keys: GpgKeys
) -> None:
    alice, bob = gpg_keys.fingerprints
    path = sops_file(sops, tmp_path, "app.yaml", FORMATS[0].plaintext)
    before = path.read_text()
    plaintext = sops.decrypt(path)

    result = secure_up(gpg_keys, "rotate", str(path), "--add-pgp", bob, "--rm-pgp", alice)

    after = path.read_text()
    assert sops.decrypt(path) == plaintext
    assert not set(ENC.findall(before)) & set(ENC.findall(after))  # every value re-encrypted
    assert bob in after
    assert alice not in after
    assert f"recipients: {bob}".encode() in result.stderr


def test_rotate_several_files_of_every_format(sops: Sops, shell_file: Path) -> None:
    paths = [shell_file] + [
        sops_file(sops, shell_file.parent, f"r{fmt.suffix}", fmt.plaintext) for fmt in FORMATS
    ]
    plaintexts = [sops.decrypt(path) for path in paths]
    secure_up(sops.keys, "rotate", *map(str, paths))
    assert [sops.decrypt(path) for path in paths] == plaintexts


def test_rotate_refuses_a_file_with_keys_it_cannot_wrap(sops: Sops, tmp_path: Path) -> None:
    path = sops_file(sops, tmp_path, "app.json", FORMATS[1].plaintext)
    document = json.loads(path.read_text())
    # age is a kind secure-up wraps now; GCP KMS it does not.
    document["sops"]["gcp_kms"] = [
        {
            "resource_id": "projects/p/locations/global/keyRings/r/cryptoKeys/k",
            "created_at": "2024-01-01T00:00:00Z",
            "enc": "CiQA",
        }
    ]
    path.write_text(json.dumps(document, indent="\t") + "\n")
    before = path.read_bytes()
    result = secure_up(sops.keys, "rotate", str(path), check=False)
    assert result.returncode == 1
    assert b"gcp_kms keys" in result.stderr
    assert b"sops rotate" in result.stderr
    assert path.read_bytes() == before


def test_rotate_refuses_to_remove_the_last_recipient(sops: Sops, tmp_path: Path) -> None:
    path = sops_file(sops, tmp_path, "app.yaml", FORMATS[0].plaintext)
    alice = sops.keys.fingerprints[0]
    result = secure_up(sops.keys, "rotate", str(path), "--rm-pgp", alice, check=False)
    assert result.returncode == 2
    assert b"nobody could open the file" in result.stderr


# -- updatekeys ----------------------------------------------------------------------------------


def write_config(directory: Path, *fingerprints: str) -> None:
    (directory / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: secrets/\n    pgp: " + ",".join(fingerprints) + "\n"
    )


def wrapped_keys(yaml_text: str) -> dict[str, str]:
    """Fingerprint -> armored data key, from the sops block of a YAML file."""
    entries = yaml.safe_load(yaml_text)["sops"]["pgp"]
    return {entry["fp"]: entry["enc"] for entry in entries}


@pytest.fixture
def project(sops: Sops, tmp_path: Path) -> Path:
    """A project whose secrets/ files sops encrypted for alice, with a .sops.yaml naming her."""
    secrets = tmp_path / "secrets"
    (secrets / "nested").mkdir(parents=True)
    sops_file(sops, secrets, "app.yaml", FORMATS[0].plaintext)
    sops_file(sops, secrets / "nested", "environment.secrets", SHELL_PAYLOAD)
    (secrets / "README.md").write_text("not a sops file\n")
    sops_file(sops, tmp_path, "outside.yaml", FORMATS[0].plaintext)  # no rule matches
    write_config(tmp_path, sops.keys.fingerprints[0])  # last: sops would apply it above
    return tmp_path


def test_updatekeys_adds_a_recipient_with_the_same_data_key(
    sops: Sops, project: Path, gpg_keys: GpgKeys
) -> None:
    alice, bob = gpg_keys.fingerprints
    app = project / "secrets" / "app.yaml"
    before = app.read_text()
    write_config(project, alice, bob)

    result = secure_up(gpg_keys, "updatekeys", "-y", "secrets", cwd=project)

    after = app.read_text()
    assert ENC.findall(after)[:-1] == ENC.findall(before)[:-1]  # same key, same IVs: only the MAC
    assert bob in after
    assert wrapped_keys(after)[alice] == wrapped_keys(before)[alice]  # kept, not re-wrapped
    stderr = result.stderr.decode()
    assert f"+{bob}" in stderr
    assert "environment.secrets" in stderr
    assert "README" not in stderr
    assert "outside" not in stderr
    assert bob not in (project / "outside.yaml").read_text()
    assert sops.decrypt(app) == sops.decrypt(project / "outside.yaml")


def test_updatekeys_removes_a_recipient(sops: Sops, project: Path, gpg_keys: GpgKeys) -> None:
    alice, bob = gpg_keys.fingerprints
    app = project / "secrets" / "app.yaml"
    write_config(project, bob)
    result = secure_up(gpg_keys, "updatekeys", "--yes", "secrets/app.yaml", cwd=project)
    assert f"-{alice}".encode() in result.stderr
    assert b"rotate" in result.stderr
    assert alice not in app.read_text()
    assert bob in app.read_text()
    assert extract(sops, app, '["db"]["password"]') == "old-pass"


def test_updatekeys_without_a_terminal_or_yes_refuses(
    sops: Sops, project: Path, gpg_keys: GpgKeys
) -> None:
    app = project / "secrets" / "app.yaml"
    before = app.read_bytes()
    write_config(project, *gpg_keys.fingerprints)
    result = secure_up(gpg_keys, "updatekeys", "secrets", cwd=project, check=False)
    assert result.returncode == 2
    assert f"+{gpg_keys.fingerprints[1]}".encode() in result.stderr
    assert b"-y" in result.stderr
    assert app.read_bytes() == before


def test_updatekeys_with_nothing_to_change(sops: Sops, project: Path, gpg_keys: GpgKeys) -> None:
    app = project / "secrets" / "app.yaml"
    before = app.read_bytes()
    result = secure_up(gpg_keys, "updatekeys", "secrets", cwd=project)
    assert b"already match" in result.stderr
    assert app.read_bytes() == before


# -- edit ----------------------------------------------------------------------------------------

EDITOR = textwrap.dedent(
    """
    import json, os, stat, sys, time
    path = sys.argv[1]
    record = os.environ["EDITOR_RECORD"]
    calls = json.load(open(record)) if os.path.exists(record) else []
    text = open(path).read()
    calls.append({"path": path, "mode": stat.S_IMODE(os.stat(path).st_mode),
                  "dir_mode": stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode),
                  "pid": os.getpid(), "first_line": text.splitlines()[0] if text else ""})
    json.dump(calls, open(record, "w"))
    mode = os.environ["EDITOR_MODE"].split(",")[len(calls) - 1]
    if mode == "crash":
        sys.exit(1)
    if mode == "hang":
        time.sleep(60)
    if mode == "change":
        open(path, "w").write(text.replace("old-pass", "edited-pass"))
    if mode == "break":
        open(path, "w").write(text + "broken: [unclosed\\n")
    if mode == "fix":
        lines = [line for line in text.splitlines(True) if not line.startswith("broken")]
        open(path, "w").write("".join(lines).replace("old-pass", "fixed-pass"))
    """
)


@pytest.fixture
def editor(tmp_path: Path) -> dict[str, str]:
    script = tmp_path / "editor.py"
    script.write_text(EDITOR)
    return {
        "SECURE_UP_EDITOR": f"{sys.executable} {script}",
        "EDITOR_RECORD": str(tmp_path / "editor-calls.json"),
    }


def editor_calls(editor: dict[str, str]) -> list[dict[str, object]]:
    calls: list[dict[str, object]] = json.loads(Path(editor["EDITOR_RECORD"]).read_text())
    return calls


def assert_plaintext_gone(editor: dict[str, str]) -> None:
    for call in editor_calls(editor):
        assert not Path(str(call["path"])).exists()
        assert not Path(str(call["path"])).parent.exists()


@pytest.fixture
def app(sops: Sops, tmp_path: Path) -> Path:
    return sops_file(sops, tmp_path, "app.yaml", FORMATS[0].plaintext)


def test_edit_saves_the_change_and_removes_the_plaintext(
    sops: Sops, app: Path, editor: dict[str, str]
) -> None:
    before = app.read_text()
    secure_up(sops.keys, "edit", str(app), env={**editor, "EDITOR_MODE": "change"})
    assert extract(sops, app, '["db"]["password"]') == "edited-pass"
    assert len(set(ENC.findall(before)) - set(ENC.findall(app.read_text()))) == 2  # value, MAC
    (call,) = editor_calls(editor)
    assert call["mode"] == 0o600
    assert call["dir_mode"] == 0o700
    assert str(call["path"]).endswith("/app.yaml")
    assert_plaintext_gone(editor)


def test_edit_without_change_writes_nothing_and_exits_200(
    sops: Sops, app: Path, editor: dict[str, str]
) -> None:
    before = app.read_bytes()
    result = secure_up(
        sops.keys, "edit", str(app), env={**editor, "EDITOR_MODE": "keep"}, check=False
    )
    assert result.returncode == 200
    assert b"not modified" in result.stderr
    assert app.read_bytes() == before
    assert_plaintext_gone(editor)


def test_an_editor_crash_writes_nothing_and_removes_the_plaintext(
    sops: Sops, app: Path, editor: dict[str, str]
) -> None:
    before = app.read_bytes()
    result = secure_up(
        sops.keys, "edit", str(app), env={**editor, "EDITOR_MODE": "crash"}, check=False
    )
    assert result.returncode == 1
    assert b"exited with code 1" in result.stderr
    assert app.read_bytes() == before
    assert_plaintext_gone(editor)


def test_sigterm_during_edit_removes_the_plaintext(
    sops: Sops, app: Path, editor: dict[str, str]
) -> None:
    before = app.read_bytes()
    process = subprocess.Popen(
        [*RUN, "edit", str(app)],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**sops.keys.env, **editor, "EDITOR_MODE": "hang"},
    )
    deadline = time.monotonic() + 60
    while not Path(editor["EDITOR_RECORD"]).exists():
        assert time.monotonic() < deadline
        assert process.poll() is None
        time.sleep(0.05)
    time.sleep(0.2)  # the record is written; let the editor reach its sleep
    (call,) = editor_calls(editor)
    assert Path(str(call["path"])).exists()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert b"SIGTERM" in stderr
    assert app.read_bytes() == before
    assert_plaintext_gone(editor)
    assert not Path(f"/proc/{call['pid']}").exists()  # the editor was ended too


def test_a_syntax_error_reopens_the_editor_with_the_message(
    sops: Sops, app: Path, editor: dict[str, str]
) -> None:
    result = secure_up(sops.keys, "edit", str(app), env={**editor, "EDITOR_MODE": "break,fix"})
    first, second = editor_calls(editor)
    assert first["path"] == second["path"]
    assert str(second["first_line"]).startswith("# secure-up: ")
    assert b"reopening the editor" in result.stderr
    assert extract(sops, app, '["db"]["password"]') == "fixed-pass"
    assert b"secure-up:" not in sops.decrypt(app)
    assert_plaintext_gone(editor)


def test_closing_the_editor_on_an_error_abandons_the_edit(
    sops: Sops, app: Path, editor: dict[str, str]
) -> None:
    before = app.read_bytes()
    result = secure_up(
        sops.keys, "edit", str(app), env={**editor, "EDITOR_MODE": "break,keep"}, check=False
    )
    assert result.returncode == 1
    assert b"without fixing the error" in result.stderr
    assert app.read_bytes() == before
    assert_plaintext_gone(editor)


def test_edit_of_the_shell_payload_is_checked_as_shell(
    sops: Sops, shell_file: Path, editor: dict[str, str]
) -> None:
    env = {**editor, "EDITOR_MODE": "change"}
    secure_up(sops.keys, "edit", str(shell_file), env=env)
    assert bash_value(sops, shell_file, "PASSWORD") == "edited-pass"
