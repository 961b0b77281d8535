"""The container that carries decrypted values from the engine to a child process.

It is a read-only mapping whose ``repr`` and ``str`` never show a value, so a
stray log line, an assertion message or a traceback cannot leak one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping


class SecretValues(Mapping[str, str]):
    """Name -> value pairs destined for a child's environment. Values stay hidden."""

    __slots__ = ("_origin", "_values")

    def __init__(
        self,
        values: Mapping[str, str] | None = None,
        origin: Mapping[str, str] | None = None,
    ) -> None:
        self._values: dict[str, str] = dict(values or {})
        #: name -> the file that provided it (for messages; never a value).
        self._origin: dict[str, str] = dict(origin or {})

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"SecretValues(names={sorted(self._values)!r}, values=<hidden>)"

    __str__ = __repr__

    def origin(self, name: str) -> str | None:
        """The file ``name`` came from, when known."""
        return self._origin.get(name)

    def merged(self, later: SecretValues) -> SecretValues:
        """A new container where ``later`` wins over this one, name by name."""
        return SecretValues({**self._values, **later._values}, {**self._origin, **later._origin})
