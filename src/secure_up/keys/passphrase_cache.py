"""Forget, after a run, the passphrases a variable unlocked in the user's own gpg-agent.

gpg-agent caches a passphrase it was given over the loopback pinentry like
one typed at a prompt (``default-cache-ttl``, 10 minutes by default). With the
user's own keyring that agent outlives us: after ``SECURE_UP_GPG_PASSPHRASE``
opened a file, any process of the user could use the key without it until the
cache expires. So we note which keys' passphrases the agent holds before the
run and, afterwards, clear exactly the ones that became cached meanwhile
(``CLEAR_PASSPHRASE --mode=normal KEYGRIP``): a key the user had unlocked
before stays unlocked, and no other agent state is touched (``RELOADAGENT``
would drop every cached passphrase and reread the agent's configuration).

A throw-away keyring needs none of this: its agent is stopped with it.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

from secure_up.keys.pgp import AGENT_TIMEOUT, PRIVATE_VARIABLE_PREFIX

#: KEYINFO's status line: ``S KEYINFO KEYGRIP TYPE SERIALNO IDSTR CACHED ...``.
_KEYGRIP_FIELD: Final = 2
_CACHED_FIELD: Final = 6


@contextlib.contextmanager
def passphrases_forgotten_afterwards(environ: Mapping[str, str]) -> Iterator[None]:
    """Clear, when the block ends, the passphrases the agent cached during it."""
    before = cached_keygrips(environ)
    try:
        yield
    finally:
        forget_passphrases(environ, cached_keygrips(environ) - before)


def cached_keygrips(environ: Mapping[str, str]) -> frozenset[str]:
    """Keygrips whose passphrase the agent of ``environ``'s GNUPGHOME holds (none if no agent)."""
    output = _agent_commands(environ, ["KEYINFO --list"])
    cached = set()
    for line in output.splitlines():
        fields = line.split()
        if len(fields) > _CACHED_FIELD and fields[:2] == ["S", "KEYINFO"]:
            if fields[_CACHED_FIELD] == "1":
                cached.add(fields[_KEYGRIP_FIELD])
    return frozenset(cached)


def forget_passphrases(environ: Mapping[str, str], keygrips: frozenset[str]) -> None:
    """Clear the agent's cached passphrase of each key in ``keygrips``."""
    commands = [
        f"CLEAR_PASSPHRASE --mode=normal {grip}" for grip in sorted(keygrips) if grip.isalnum()
    ]
    if commands:
        _agent_commands(environ, commands)


def _agent_commands(environ: Mapping[str, str], commands: list[str]) -> str:
    """Send ``commands`` to a running agent (never start one); its output, or "" on failure."""
    program = _gpg_connect_agent(environ)
    if program is None:
        return ""
    home = environ.get("GNUPGHOME")
    argv = [program, "--no-autostart", *(["--homedir", home] if home else []), *commands, "/bye"]
    env = {k: v for k, v in environ.items() if not k.startswith(PRIVATE_VARIABLE_PREFIX)}
    # gpg's tools are the key subsystem's own: run here, not through process.py.
    try:
        completed = subprocess.run(  # noqa: S603 - a fixed program; keygrips checked above
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=AGENT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return completed.stdout.decode("utf-8", "replace")


def _gpg_connect_agent(environ: Mapping[str, str]) -> str | None:
    """gpg-connect-agent beside the gpg we use (SOPS_GPG_EXEC), else on PATH."""
    gpg = shutil.which(environ.get("SOPS_GPG_EXEC") or "gpg", path=environ.get("PATH"))
    if gpg is not None:
        sibling = Path(gpg).with_name("gpg-connect-agent")
        if sibling.is_file():
            return str(sibling)
    return shutil.which("gpg-connect-agent", path=environ.get("PATH"))
