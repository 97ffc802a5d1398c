"""RFC 6962/9162 Merkle trees: roots, inclusion and consistency proofs against the RFC text."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import (
    EMPTY_ROOT,
    consistency_path,
    inclusion_path,
    merkle_root,
    verify_consistency,
    verify_inclusion,
)


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _leaf(data: bytes) -> bytes:
    return _h(b"\x00" + data)


# The RFC's recursive definitions (RFC 6962 section 2.1), written out literally as a reference.
def _k(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def _mth(d: list[bytes]) -> bytes:
    if not d:
        return _h(b"")
    if len(d) == 1:
        return _leaf(d[0])
    k = _k(len(d))
    return _h(b"\x01" + _mth(d[:k]) + _mth(d[k:]))


def _path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) <= 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*_path(m, d[:k]), _mth(d[k:])]
    return [*_path(m - k, d[k:]), _mth(d[:k])]


def _subproof(m: int, d: list[bytes], complete: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if complete else [_mth(d)]
    k = _k(n)
    if m <= k:
        return [*_subproof(m, d[:k], complete), _mth(d[k:])]
    return [*_subproof(m - k, d[k:], False), _mth(d[:k])]


# Test vectors of the Certificate Transparency reference implementation (merkle_tree_test).
CT_LEAVES = [
    bytes.fromhex(x)
    for x in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f")
]  # fmt: skip
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_known_roots() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    leaves = [_leaf(d) for d in CT_LEAVES]
    for n, root in enumerate(CT_ROOTS, start=1):
        assert merkle_root(leaves[:n]).hex() == root


@pytest.mark.parametrize("n", range(70))
def test_root_and_paths_match_the_rfc_definitions(n: int) -> None:
    data = [i.to_bytes(2, "big") for i in range(n)]
    leaves = [_leaf(d) for d in data]
    root = _mth(data)
    assert merkle_root(leaves) == root
    for m in range(n):
        path = inclusion_path(leaves, m)
        assert path == _path(m, data)
        assert verify_inclusion(leaves[m], m, n, path, root)
        assert not verify_inclusion(_leaf(b"wrong"), m, n, path, root)
        if n > 1:
            assert not verify_inclusion(leaves[m], (m + 1) % n, n, path, root)
    for m in range(1, n + 1):
        assert consistency_path(leaves, m) == _subproof(m, data, True)


def test_bad_arguments() -> None:
    leaves = [_leaf(b"a"), _leaf(b"b")]
    with pytest.raises(IndexError, match="leaf index 2"):
        inclusion_path(leaves, 2)
    with pytest.raises(ValueError, match="old size 0"):
        consistency_path(leaves, 0)
    assert not verify_inclusion(leaves[0], 5, 2, [], merkle_root(leaves))
    assert not verify_consistency(0, 2, b"", merkle_root(leaves), [])
    assert not verify_consistency(3, 2, b"", merkle_root(leaves), [])


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n))))
def test_consistency_between_random_sizes(sizes: tuple[int, int]) -> None:
    n, m = sizes
    leaves = [_leaf(i.to_bytes(4, "big")) for i in range(n)]
    old, new = merkle_root(leaves[:m]), merkle_root(leaves)
    proof = consistency_path(leaves, m)
    assert verify_consistency(m, n, old, new, proof)
    # A rewritten history fails: change one old leaf.
    forged = merkle_root([_leaf(b"forged"), *leaves[1:m]])
    assert not verify_consistency(m, n, forged, new, proof)
    if m < n:
        assert not verify_consistency(m, n, old, merkle_root([*leaves[:-1], _leaf(b"x")]), proof)
    if proof:
        bad = [bytes(32), *proof[1:]]
        assert not verify_consistency(m, n, old, new, bad)
        assert not verify_consistency(m, n, old, new, proof[:-1])
