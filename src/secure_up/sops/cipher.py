"""Encrypted values: ``ENC[AES256_GCM,data:...,iv:...,tag:...,type:...]``.

One AES-256-GCM data key per file; every value has its own random 32-byte IV
and its path as additional authenticated data (AAD), so a value moved to
another key no longer decrypts. The plaintext bytes of each value type are
fixed by sops (see :func:`plaintext_bytes`); they also feed the MAC.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from binascii import a2b_base64
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Final

from cryptography.exceptions import InvalidTag

try:
    # The very class ``cryptography.hazmat.primitives.ciphers.aead`` re-exports, taken
    # where it is defined: the public path first loads every cipher, mode and
    # "decrepit" algorithm of the package (4 ms of each run's start, for one class).
    # tests/unit/test_engine.py checks it is the same class; if a release moves it,
    # the public import below takes over.
    from cryptography.hazmat.bindings._rust import openssl as _openssl

    AESGCM = _openssl.aead.AESGCM
except (ImportError, AttributeError):  # pragma: no cover - another cryptography release
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from secure_up.errors import FormatError, IntegrityError
from secure_up.sops.tree import Comment, Time, from_bytes, to_bytes

IV_SIZE: Final = 32
TAG_SIZE: Final = 16
DATA_KEY_SIZE: Final = 32

ENC_PREFIX: Final = "ENC[AES256_GCM,"
#: The fields of an ``ENC[...]`` text: data, iv, tag and type (one match, not a split and checks).
_ENC_FIELDS: Final = re.compile(
    r"ENC\[AES256_GCM,data:([^,]*),iv:([^,]*),tag:([^,]*),type:([^,]*)\]"
)

#: Plaintext values the engine encrypts: scalars and comments.
Plaintext = str | int | float | bool | bytes | Comment


def looks_encrypted(value: object) -> bool:
    """Whether ``value`` is written in the ``ENC[AES256_GCM,...]`` form (valid or not)."""
    return isinstance(value, str) and value.startswith(ENC_PREFIX)


def format_float(value: float) -> str:
    """A float as Go's ``strconv.FormatFloat(f, 'f', -1, 64)``: shortest, never an exponent."""
    if value != value:  # NaN
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    from decimal import Decimal  # only for floats: 1.5 ms of start-up otherwise

    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def type_and_bytes(value: Plaintext) -> tuple[str, bytes]:
    """The sops type name of ``value`` and the bytes sops encrypts and hashes for it."""
    if isinstance(value, bool):
        return "bool", b"True" if value else b"False"
    if isinstance(value, int):
        return "int", str(value).encode()
    if isinstance(value, float):
        return "float", format_float(value).encode()
    if isinstance(value, Time):
        return "time", str(value).encode()
    if isinstance(value, str):
        return "str", to_bytes(value)
    if isinstance(value, bytes):
        return "bytes", value
    return "comment", to_bytes(value.text)


def plaintext_bytes(value: Plaintext) -> bytes:
    return type_and_bytes(value)[1]


def _parse_bool(text: str) -> bool:
    # Go's strconv.ParseBool, which sops uses.
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError


def _parse_float(text: str) -> float:
    return float(text.replace("+Inf", "inf").replace("-Inf", "-inf"))


_DECODERS: Final[dict[str, Callable[[bytes], Plaintext]]] = {
    "str": from_bytes,
    "int": lambda data: int(data.decode("ascii")),
    "float": lambda data: _parse_float(data.decode("ascii")),
    "bool": lambda data: _parse_bool(data.decode("ascii")),
    "time": lambda data: Time(data.decode("utf-8")),
    "bytes": bytes,
    "comment": lambda data: Comment(from_bytes(data)),
}


#: What :meth:`ValueCipher.open_many` opens: every type but comments (outside the MAC).
_MANY_TYPES: Final = frozenset(_DECODERS) - {"comment"}
_MATCH_GROUPS: Final = re.Match.groups
_UTF8: Final = repeat("utf-8")
_SURROGATES: Final = repeat("surrogateescape")


class ValueCipher:
    """Encrypts and decrypts single values with one file's data key.

    It remembers the IV of every value it decrypted, keyed by path and
    plaintext, and reuses it when the same value is encrypted again at the same
    path: unchanged values keep byte-identical ciphertext, as with sops, so
    diffs of a rewritten file show only what changed.
    """

    __slots__ = ("_aead", "_ivs", "decrypt")

    def __init__(self, data_key: bytes, *, remember_ivs: bool = True) -> None:
        if len(data_key) != DATA_KEY_SIZE:
            raise IntegrityError(
                f"the data key has {len(data_key)} bytes instead of {DATA_KEY_SIZE}",
                "the file's master key entries are damaged; restore the file from version control",
            )
        self._aead = AESGCM(data_key)
        # Only a file that will be written again needs the IVs (and keeps no
        # plaintext copies otherwise).
        self._ivs: dict[tuple[str, str, bytes], bytes] | None = {} if remember_ivs else None
        #: ``decrypt(text, aad)``: the plaintext of an ``ENC[...]`` value stored at path ``aad``.
        self.decrypt: Callable[[str, str], Plaintext] = self.opener(_ignore)

    def __repr__(self) -> str:
        return "ValueCipher(<data key hidden>)"

    def opener(self, hashed: Callable[[bytes], object]) -> Callable[[str, str], Plaintext]:
        """``open(text, aad)``: the plaintext of an ``ENC[...]`` value stored at path ``aad``.

        ``hashed`` receives the raw plaintext bytes of every value that is not a
        comment (what sops' MAC hashes), in the order the values are opened.

        Runs once per value of a file (10,000 in a large one), so it is one Python
        frame: one regex match, C calls, and the checks that guard them, with every
        name it needs bound here.
        """
        fields, decoders, decrypt = _ENC_FIELDS.fullmatch, _DECODERS, self._aead.decrypt
        ivs, tag_size = self._ivs, TAG_SIZE

        def open_value(text: str, aad: str) -> Plaintext:
            match = fields(text)
            if match is None:
                raise _not_a_value(aad)
            data_b64, iv_b64, tag_b64, type_name = match.groups()
            try:
                data = a2b_base64(data_b64, strict_mode=True) if data_b64 else b""
                iv = a2b_base64(iv_b64, strict_mode=True)
                tag = a2b_base64(tag_b64, strict_mode=True)
            except (binascii.Error, ValueError):
                raise _bad_base64(aad) from None
            decoder = decoders.get(type_name)
            if decoder is None:
                raise _unknown_type(aad, type_name)
            if len(tag) != tag_size or not 8 <= len(iv) <= 128:
                raise _truncated(aad)
            try:
                plain = decrypt(iv, data + tag, aad.encode())
            except InvalidTag:
                raise _not_authentic(aad) from None
            try:
                value = (
                    plain.decode("utf-8", "surrogateescape")
                    if type_name == "str"
                    else decoder(plain)
                )
            except (ValueError, UnicodeDecodeError):
                raise _not_of_type(aad, type_name) from None
            if ivs is not None:
                ivs[(aad, type_name, plain)] = iv
            # A list element `- ENC[...,type:comment]` (how sops writes an encrypted
            # comment inside a list) decrypts to a comment: sops leaves it out of the MAC.
            if type_name != "comment":
                hashed(plain)
            return value

        return open_value

    def open_many(
        self, texts: Sequence[object], aads: list[str]
    ) -> tuple[list[Plaintext], list[bytes]] | None:
        """The plaintexts of many ``ENC[...]`` values at once, and their raw bytes; or None.

        ``texts[i]`` is stored at path ``aads[i]``. The same work as :meth:`opener`
        per value, done a step at a time over all values: each step is one C call
        mapped over them, and no Python frame runs per value (a flat map of 10,000
        values opens in three quarters of the time). None when any value would not
        open cleanly — not a string, malformed, not authentic, a comment, a bad text
        of its type: nothing is hashed then, and the caller opens the values one by
        one, which names the culprit. The raw bytes are for the MAC, in order.
        """
        if not texts:
            return [], []
        if set(map(type, texts)) != {str}:
            return None
        matches = list(map(_ENC_FIELDS.fullmatch, texts))  # type: ignore[arg-type]
        if None in matches:
            return None
        groups = map(_MATCH_GROUPS, matches)  # type: ignore[arg-type]  # no None, as checked
        data_b64, iv_b64, tag_b64, types = zip(*groups, strict=True)
        kinds = set(types)
        if not kinds <= _MANY_TYPES:
            return None  # a comment (never hashed) or an unknown type
        try:  # comprehensions: a partial() with strict_mode costs twice the calls
            datas = [a2b_base64(text, strict_mode=True) for text in data_b64]
            ivs = [a2b_base64(text, strict_mode=True) for text in iv_b64]
            tags = [a2b_base64(text, strict_mode=True) for text in tag_b64]
        except (binascii.Error, ValueError):
            return None
        iv_sizes = set(map(len, ivs))
        if set(map(len, tags)) != {TAG_SIZE} or min(iv_sizes) < 8 or max(iv_sizes) > 128:
            return None
        sealed = map(bytes.__add__, datas, tags)
        try:
            raw = list(map(self._aead.decrypt, ivs, sealed, map(str.encode, aads)))
        except InvalidTag:
            return None
        if kinds == {"str"}:
            values: list[Plaintext] = list(map(bytes.decode, raw, _UTF8, _SURROGATES))
        else:
            try:
                values = [_DECODERS[kind](plain) for kind, plain in zip(types, raw, strict=True)]
            except (ValueError, UnicodeDecodeError):
                return None
        if self._ivs is not None:
            self._ivs.update(zip(zip(aads, types, raw, strict=True), ivs, strict=True))
        return values, raw

    def encrypt(self, value: Plaintext, aad: str) -> str:
        """The ``ENC[...]`` text of ``value`` stored at path ``aad``."""
        type_name, plain = type_and_bytes(value)
        iv = (self._ivs or {}).get((aad, type_name, plain)) or os.urandom(IV_SIZE)
        sealed = self._aead.encrypt(iv, plain, aad.encode())
        data, tag = sealed[:-TAG_SIZE], sealed[-TAG_SIZE:]
        return f"ENC[AES256_GCM,data:{_b64(data)},iv:{_b64(iv)},tag:{_b64(tag)},type:{type_name}]"


def _where(aad: str) -> str:
    return aad.rstrip(":") or "(top level)"


def _ignore(_raw: bytes) -> None:
    """The hash sink of :meth:`ValueCipher.decrypt`: nothing to hash."""


_FIX_RESTORE: Final = "the file is damaged or was edited by hand; restore it from version control"


def _not_a_value(aad: str) -> FormatError:
    return FormatError(
        f"the value at {_where(aad)} is not a valid ENC[AES256_GCM,...] value", _FIX_RESTORE
    )


def _bad_base64(aad: str) -> FormatError:
    return FormatError(
        f"the value at {_where(aad)} has invalid base64 in its ENC[...] fields", _FIX_RESTORE
    )


def _unknown_type(aad: str, type_name: str) -> FormatError:
    return FormatError(
        f"the value at {_where(aad)} has the unknown type {type_name!r}",
        "the file may come from a newer sops; upgrade secure-up",
    )


def _truncated(aad: str) -> IntegrityError:
    return IntegrityError(
        f"the value at {_where(aad)} has a truncated IV or tag",
        "the file was altered; restore it from version control",
    )


def _not_authentic(aad: str) -> IntegrityError:
    return IntegrityError(
        f"the value at {_where(aad)} failed authentication: it was altered, moved to "
        "another key, or encrypted with another data key",
        "restore the file from version control; never edit ENC[...] values by hand",
    )


def _not_of_type(aad: str, type_name: str) -> FormatError:
    return FormatError(
        f"the value at {_where(aad)} does not hold a valid {type_name}",
        "the file was written by a broken tool; re-encrypt it from its plaintext",
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
