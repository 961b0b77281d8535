"""Shamir's secret sharing: the field arithmetic, sops' share layout, and properties."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secure_up.errors import FormatError
from secure_up.sops import shamir


def reference_mul(a: int, b: int) -> int:
    """GF(2^8) product bit by bit, as sops' mult() computes it (no tables)."""
    product = 0
    for bit in range(7, -1, -1):
        product <<= 1
        if product & 0x100:
            product ^= 0x11B
        if (b >> bit) & 1:
            product ^= a
    return product


def reference_share(coefficients: list[list[int]], x: int) -> bytes:
    """A share as sops lays it out: each byte's polynomial at x, then x itself."""
    values = []
    for poly in coefficients:
        value, power = 0, 1
        for coefficient in poly:
            value ^= reference_mul(coefficient, power)
            power = reference_mul(power, x)
        values.append(value)
    return bytes([*values, x])


def test_table_multiplication_matches_the_bitwise_definition() -> None:
    for a, b in itertools.product(range(256), repeat=2):
        assert shamir._mul(a, b) == reference_mul(a, b)
    assert shamir._mul(3, 7) == 9  # the value sops' own test expects


def test_division_inverts_multiplication() -> None:
    for a, b in itertools.product(range(256), range(1, 256)):
        assert shamir._div(shamir._mul(a, b), b) == a


def test_combine_reads_hand_made_shares_with_arbitrary_x() -> None:
    # Old sops versions (and Vault) picked random distinct x values: any must work.
    secret = b"\x00\x2a\xff"
    coefficients = [[byte, 0x53, 0xC4] for byte in secret]
    shares = [reference_share(coefficients, x) for x in (7, 200, 31, 1)]
    for subset in itertools.combinations(shares, 3):
        assert shamir.combine(subset) == secret


def test_split_lays_out_shares_as_sops_does() -> None:
    shares = shamir.split(bytes(range(32)), parts=3, threshold=2)
    assert [len(share) for share in shares] == [33, 33, 33]
    assert [share[-1] for share in shares] == [1, 2, 3]  # x = key group index + 1


@pytest.mark.parametrize(("parts", "threshold"), [(3, 1), (2, 3), (256, 2), (3, 0), (1, 1)])
def test_split_rejects_what_sops_rejects(parts: int, threshold: int) -> None:
    with pytest.raises(ValueError, match="threshold"):
        shamir.split(b"key", parts, threshold)


def test_split_rejects_an_empty_secret() -> None:
    with pytest.raises(ValueError, match="empty"):
        shamir.split(b"", 3, 2)


@pytest.mark.parametrize(
    ("shares", "message"),
    [
        ([b"\x01\x01"], "at least 2"),
        ([b"abc", b"ab"], "differ in length"),
        ([b"a", b"b"], "differ in length"),
        ([b"ab\x01", b"cd\x01"], "same x"),
    ],
)
def test_combine_rejects_shares_from_no_single_split(shares: list[bytes], message: str) -> None:
    with pytest.raises(FormatError, match=message) as caught:
        shamir.combine(shares)
    assert caught.value.fix


@st.composite
def split_cases(draw: st.DrawFn) -> tuple[bytes, int, int, list[int]]:
    secret = draw(st.binary(min_size=1, max_size=40))
    parts = draw(st.integers(min_value=2, max_value=8))
    threshold = draw(st.integers(min_value=2, max_value=parts))
    order = draw(st.permutations(range(parts)))
    return secret, parts, threshold, list(order)


@given(split_cases())
def test_any_threshold_subset_recovers_the_secret(
    case: tuple[bytes, int, int, list[int]],
) -> None:
    secret, parts, threshold, order = case
    shares = shamir.split(secret, parts, threshold)
    for count in range(threshold, parts + 1):
        assert shamir.combine([shares[i] for i in order[:count]]) == secret


@given(st.binary(min_size=16, max_size=40), st.integers(min_value=3, max_value=6))
def test_fewer_shares_than_the_threshold_do_not_give_the_secret(
    secret: bytes, threshold: int
) -> None:
    # With 16+ random bytes, an accidental match has probability 2**-128.
    shares = shamir.split(secret, parts=threshold, threshold=threshold)
    assert shamir.combine(shares[: threshold - 1]) != secret
