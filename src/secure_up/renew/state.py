"""The pending record: what a renewal in progress has decided, beside the secrets file.

``secrets/environment.secrets`` gets ``secrets/environment.secrets.renew.yaml``
while a renewal runs: a sops YAML file written by our own engine, with a data key
of its own wrapped for the secrets file's recipients. The new values are
encrypted; the step, the key names, the services and the PID are clear text (and
under the MAC), so ``check`` and ``doctor`` report a pending renewal without a key.

Steps: ``pending`` (new value chosen, live system maybe changed), ``committed``
(the secrets file holds the new value; only the restart is left; no value kept).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import yaml

from secure_up.errors import FormatError
from secure_up.keys.services import KeyServices
from secure_up.sopsfile import EncryptedFile, to_plain
from secure_up.sopsfile.creation import encrypt_document
from secure_up.system.atomic import atomic_write

SUFFIX: Final = ".renew.yaml"
PENDING: Final = "pending"
COMMITTED: Final = "committed"
#: Only the new values are encrypted; the rest says what is going on to anyone.
_RULE: Final[tuple[Literal["encrypted_regex"], str]] = ("encrypted_regex", "^new_values$")


def record_path(secrets_file: Path) -> Path:
    return secrets_file.with_name(secrets_file.name + SUFFIX)


@dataclass(repr=False)
class Record:
    secrets_file: Path
    keys: list[str]
    step: str
    services: list[str]
    new_values: dict[str, str] = field(default_factory=dict)
    pid: int = 0
    started: str = ""
    #: The Swarm stack renewed (``renew --stack``), so ``--resume``/``--abort`` find it alone.
    stack: str | None = None

    def __repr__(self) -> str:
        return f"Record({self.secrets_file}, keys={self.keys}, step={self.step}, values=<hidden>)"

    @property
    def path(self) -> Path:
        return record_path(self.secrets_file)

    def describe(self) -> str:
        return (
            f"a renewal of {', '.join(self.keys)} ({self.step}, started {self.started} by "
            f"process {self.pid}) is recorded in {self.path}"
        )


def write(record: Record, secrets: EncryptedFile, keys: KeyServices) -> None:
    """Encrypt ``record`` to the key groups of ``secrets`` and write it atomically."""
    plain = {
        "secrets_file": record.secrets_file.name,
        "keys": record.keys,
        "step": record.step,
        "services": record.services,
        "pid": record.pid or os.getpid(),
        "started": record.started or _now(),
        "new_values": dict(record.new_values) or {"none": ""},
    }
    if record.stack is not None:
        plain["stack"] = record.stack
    atomic_write(record.path, encrypt_document(plain, "yaml", secrets.metadata, _RULE, keys))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def peek(secrets_file: Path) -> Record | None:
    """The record's clear fields, without a key (values empty); None when there is none."""
    path = record_path(secrets_file)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, yaml.YAMLError):
        raise FormatError(
            f"{path} (a pending renewal) cannot be read",
            f"run `secure-up renew --abort`, or remove {path} if no renewal was running",
        ) from None
    return _from_plain(secrets_file, raw if isinstance(raw, dict) else {}, {})


def load(secrets_file: Path, keys: KeyServices) -> Record | None:
    """The record with its new values decrypted; None when there is none."""
    path = record_path(secrets_file)
    if not path.exists():
        return None
    decrypted = EncryptedFile.read(path, "yaml").decrypt(keys, for_rewrite=False)
    plain = {name: to_plain(value) for name, value in decrypted.documents[0].items_only()}
    values = plain.get("new_values")
    names = plain.get("keys")
    new_values = {
        str(k): str(v)
        for k, v in (values.items() if isinstance(values, dict) else [])
        if isinstance(names, list) and k in names
    }
    return _from_plain(secrets_file, plain, new_values)


def _from_plain(secrets_file: Path, plain: dict[str, Any], values: dict[str, str]) -> Record:
    return Record(
        secrets_file=secrets_file,
        keys=[str(key) for key in plain.get("keys") or []],
        step=str(plain.get("step", PENDING)),
        services=[str(service) for service in plain.get("services") or []],
        new_values=values,
        pid=int(plain.get("pid") or 0),
        started=str(plain.get("started", "")),
        stack=str(plain["stack"]) if plain.get("stack") else None,
    )


def drop(secrets_file: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(record_path(secrets_file))
