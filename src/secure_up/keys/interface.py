"""The one seam between the sops format and master keys, as sops' own ``MasterKey`` + key service.

A :class:`KeyService` handles one kind of master key (``pgp``, ``age``, ``kms``):
it opens the data key (or a key group's Shamir share) wrapped for an entry of
the file's metadata, wraps a new one for a recipient, and says which identities
it holds, for error messages and ``doctor``. Nothing above ``keys/`` knows which
kind it deals with: it asks :class:`secure_up.keys.services.KeyServices`.

Adding a kind is one module that defines the service and a ``KIND`` record, and
one line in :mod:`secure_up.keys.registry`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Protocol

from secure_up.errors import NoKeyError
from secure_up.sops.metadata import MasterKey


class KeyUnavailable(NoKeyError):
    """This service could not open or wrap the data key for one entry; says why (never a key)."""


class KeyService(Protocol):
    """Opens and wraps data keys for the master keys of one kind."""

    kind: str

    def open(self, key: MasterKey) -> bytes:
        """The data key (or share) wrapped in ``key.enc``; :class:`KeyUnavailable` if not."""
        ...

    def wrap(self, key: MasterKey, data_key: bytes) -> None:
        """Set ``key.enc`` (and ``created_at``) to ``data_key`` wrapped for ``key``'s recipient."""
        ...

    def identities(self) -> list[str]:
        """The identities this service could open files with, described for people."""
        ...

    def where(self) -> str:
        """Where identities are looked for, e.g. ``secret keys in ~/.gnupg``."""
        ...


class KeyContext:
    """What a service may use to find its identities: injected, never global.

    Plain classes here, not frozen dataclasses: every run loads this module, and
    ``dataclasses`` (with ``inspect``) costs about 8 ms of start-up.
    """

    __slots__ = ("cleanup", "environ", "interactive")

    def __init__(
        self, environ: Mapping[str, str], interactive: bool, cleanup: contextlib.ExitStack
    ) -> None:
        self.environ = environ
        #: Whether a person at a terminal could answer a prompt (a pinentry).
        self.interactive = interactive
        #: Cleanup of the command: a service that makes something (a keyring) registers
        #: its removal.
        self.cleanup = cleanup

    def __repr__(self) -> str:
        return (
            f"KeyContext(environ=<{len(self.environ)} variables>, interactive={self.interactive})"
        )


class KeyKind:
    """A master key kind secure-up can open and wrap."""

    __slots__ = ("kind", "make_service", "new_key")

    def __init__(
        self,
        kind: str,
        make_service: Callable[[KeyContext], KeyService],
        new_key: Callable[[str], MasterKey],
    ) -> None:
        self.kind = kind
        #: The service for one command; made only when a file needs this kind.
        self.make_service = make_service
        #: A new entry for a recipient named on the command line or in .sops.yaml.
        self.new_key = new_key

    def __repr__(self) -> str:
        return f"KeyKind({self.kind!r})"
