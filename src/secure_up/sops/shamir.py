"""Shamir's secret sharing over GF(2^8), byte for byte as sops does it.

sops (``shamir/shamir.go``, HashiCorp Vault's code) splits the data key when a
file has several key groups: one share per group, any ``threshold`` of them
give the key back. Each byte of the secret is the constant term of its own
random polynomial of degree ``threshold - 1``; a share holds that polynomial's
value at one x for every byte, followed by a single byte with x itself.

sops 3.10 and later use x = group index + 1; older versions (and Vault) used
random distinct x values, which :func:`combine` reads just as well, since every
share carries its own x.

The field is AES's: polynomial x^8 + x^4 + x^3 + x + 1 (0x11B). Multiplication
goes through log/exp tables, which leaks timing through the cache; that is
acceptable for a 32-byte key handled once per run, not for a network service.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Final

from secure_up.errors import FormatError

#: 3 generates the multiplicative group of GF(2^8) under 0x11B.
_GENERATOR: Final = 3
_REDUCTION: Final = 0x11B
_MAX_PARTS: Final = 255


def _build_tables() -> tuple[list[int], list[int]]:
    """Tables of 3**i and its logarithm; exp is doubled so that log a + log b needs no modulo."""
    exp = [0] * 510
    log = [0] * 256
    value = 1
    for power in range(255):
        exp[power] = exp[power + 255] = value
        log[value] = power
        value = _times_generator(value)
    return exp, log


def _times_generator(value: int) -> int:
    """value * 3 in GF(2^8): value * 2 (shift and reduce) plus value."""
    doubled = value << 1
    if doubled & 0x100:
        doubled ^= _REDUCTION
    return doubled ^ value


_EXP, _LOG = _build_tables()


def _mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    """a / b for b != 0 (callers guarantee distinct x values, so b is never 0)."""
    if a == 0:
        return 0
    return _EXP[_LOG[a] + 255 - _LOG[b]]


def _evaluate(coefficients: Sequence[int], x: int) -> int:
    """The polynomial's value at x, by Horner's method (coefficients[0] is the constant)."""
    result = 0
    for coefficient in reversed(coefficients):
        result = _mul(result, x) ^ coefficient
    return result


def _lagrange_weights(xs: Sequence[int]) -> list[int]:
    """Weights w_i with f(0) = sum of w_i * y_i for any polynomial of degree < len(xs).

    Subtraction is XOR in GF(2^8), so (0 - x_j) / (x_i - x_j) is x_j / (x_i ^ x_j).
    """
    weights = []
    for i, x_i in enumerate(xs):
        weight = 1
        for j, x_j in enumerate(xs):
            if i != j:
                weight = _mul(weight, _div(x_j, x_i ^ x_j))
        weights.append(weight)
    return weights


def split(secret: bytes, parts: int, threshold: int) -> list[bytes]:
    """Split ``secret`` into ``parts`` shares, any ``threshold`` of which recover it.

    Share ``i`` (0-based) is the polynomials' values at x = i + 1, then that x, as
    sops writes them for key group ``i``. Raises ValueError on arguments sops rejects.
    """
    if not 2 <= threshold <= parts <= _MAX_PARTS:
        raise ValueError(
            f"Shamir needs 2 <= threshold <= parts <= {_MAX_PARTS}, "
            f"got threshold {threshold} and {parts} parts"
        )
    if not secret:
        raise ValueError("cannot split an empty secret")
    xs = range(1, parts + 1)
    shares = [bytearray() for _ in xs]
    for byte in secret:
        coefficients = [byte, *secrets.token_bytes(threshold - 1)]
        for share, x in zip(shares, xs, strict=True):
            share.append(_evaluate(coefficients, x))
    for share, x in zip(shares, xs, strict=True):
        share.append(x)
    return [bytes(share) for share in shares]


def combine(shares: Sequence[bytes]) -> bytes:
    """Recover the secret from two or more shares made by :func:`split` (or by sops).

    Any number of shares at or above the threshold gives the secret; fewer give
    unrelated bytes, which nothing here can detect (the file's MAC and the value
    tags will). Raises FormatError when the shares cannot come from one split.
    """
    if len(shares) < 2:
        raise FormatError(
            f"{len(shares)} key group share(s) cannot rebuild the data key; at least 2 are needed",
            "decrypt with keys from more key groups (see the file's shamir_threshold)",
        )
    length = len(shares[0])
    if length < 2 or any(len(share) != length for share in shares):
        raise FormatError(
            "the key group shares of the data key differ in length or are empty",
            "the file's sops metadata is damaged: restore the file from version control",
        )
    xs = [share[-1] for share in shares]
    if len(set(xs)) != len(xs):
        raise FormatError(
            "two key group shares of the data key have the same x coordinate",
            "the file's sops metadata is damaged: restore the file from version control",
        )
    weights = _lagrange_weights(xs)
    secret = bytearray()
    for position in range(length - 1):
        value = 0
        for weight, share in zip(weights, shares, strict=True):
            value ^= _mul(weight, share[position])
        secret.append(value)
    return bytes(secret)
