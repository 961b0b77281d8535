"""What ``check`` and ``doctor`` say about renewals: the block's problems, gaps, pending ones."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from secure_up.errors import SecureUpError
from secure_up.renew import state
from secure_up.renew.plan import unrenewable_database_secrets, validate_block


def pending_renewals(secrets_files: Sequence[Path]) -> list[str]:
    """One line per renewal recorded beside a secrets file (none when all is quiet)."""
    lines = []
    for path in secrets_files:
        try:
            record = state.peek(Path(os.path.realpath(path)))
        except SecureUpError as error:
            lines.append(f"warning: {error.what}")
            continue
        if record is not None:
            lines.append(
                f"warning: {record.describe()}; finish it with `secure-up renew --resume` or "
                "undo it with `secure-up renew --abort`"
            )
    return lines


def renew_warnings(
    compose_files: Sequence[Path], secrets_files: Sequence[Path], secret_names: Sequence[str]
) -> list[str]:
    """The renew block's problems, database secrets without an applier, pending renewals."""
    lines = [f"warning: {problem}" for problem in validate_block(compose_files)]
    lines += [
        f"warning: {name} is used by the database service {service}, but x-secure-up.renew "
        f"declares no applier for it: `secure-up renew {name}` cannot change it there, and "
        f"`secure-up set` alone would lock the services out of {service}"
        for name, service in unrenewable_database_secrets(compose_files, secret_names)
    ]
    return lines + pending_renewals(secrets_files)
