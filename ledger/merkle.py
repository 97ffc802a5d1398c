"""RFC 9162 (Certificate Transparency 2.0) Merkle trees, inclusion and consistency proofs.

Hashing with domain separation (RFC 9162 section 2.1.1): a leaf is ``SHA-256(0x00 || d)``, an
interior node ``SHA-256(0x01 || left || right)``, the empty tree ``SHA-256("")``. For ``n`` leaves
that are not a power of two the tree splits at ``k``, the largest power of two smaller than ``n``.
Building the tree bottom-up, pairing neighbours and carrying an unpaired last node up unchanged,
gives exactly that tree; the functions here work that way (no recursion, one pass per level).

Proofs are the RFC's: :func:`inclusion_path` is PATH(m, D[n]) and :func:`consistency_path` is
PROOF(m, D[n]) of RFC 6962 section 2.1; :func:`verify_inclusion` and :func:`verify_consistency` are
the verification algorithms of RFC 9162 sections 2.1.3.2 and 2.1.4.2. All functions take *leaf
hashes*, not leaf data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

EMPTY_ROOT = hashlib.sha256(b"").digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _next_level(level: Sequence[bytes]) -> list[bytes]:
    sha = hashlib.sha256
    up = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
    if len(level) & 1:
        up.append(level[-1])
    return up


def merkle_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash MTH(D[n]) over ``leaf_hashes`` (``SHA-256("")`` when empty)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = leaf_hashes
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


def inclusion_path(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index``: sibling hashes from the leaf up to the root.

    Raises:
        IndexError: If ``index`` is not a leaf of the tree.
    """
    if not 0 <= index < len(leaf_hashes):
        raise IndexError(f"leaf index {index} is outside a tree of {len(leaf_hashes)} leaves")
    path: list[bytes] = []
    level = leaf_hashes
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):  # otherwise the node is carried up unchanged: no sibling
            path.append(level[sibling])
        level = _next_level(level)
        index >>= 1
    return path


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2: does ``path`` prove leaf hash ``leaf`` at ``index`` in ``root``?"""
    if not 0 <= index < tree_size:
        return False
    fn, sn, r = index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def consistency_path(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(m, D[n]): proves the tree of the first ``old_size`` leaves is a prefix of this one.

    Raises:
        ValueError: Unless ``1 <= old_size <= len(leaf_hashes)``.
    """
    n = len(leaf_hashes)
    if not 1 <= old_size <= n:
        raise ValueError(f"old size {old_size} must be between 1 and the tree size {n}")
    proof: list[bytes] = []
    # Iterative form of SUBPROOF(m, D[lo:hi], complete): the right-hand hashes are collected
    # top-down and the RFC lists them bottom-up, hence the final reverse.
    lo, hi, m, complete = 0, n, old_size, True
    while m != hi - lo:
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        if m <= k:
            proof.append(merkle_root(leaf_hashes[lo + k : hi]))
            hi = lo + k
        else:
            proof.append(merkle_root(leaf_hashes[lo : lo + k]))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        proof.append(merkle_root(leaf_hashes[lo:hi]))
    proof.reverse()
    return proof


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2: does ``path`` prove ``old_root`` is a prefix of ``new_root``?"""
    if not 1 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not path and old_root == new_root
    if not path:
        return False
    proof = list(path)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the new tree
        proof.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Proof that one record is in its block (or one header in the chain's history tree).

    Attributes:
        height: Block height of the record (for a header proof: the header's height).
        index: Leaf index within the tree.
        tree_size: Leaves in the tree.
        leaf_hash: The proven leaf hash.
        path: Sibling hashes, leaf to root.
        root: The tree's root (the block's ``merkle_root``, or the history root).
    """

    height: int
    index: int
    tree_size: int
    leaf_hash: bytes
    path: tuple[bytes, ...]
    root: bytes

    def verify(self, leaf_data: bytes | None = None, root: bytes | None = None) -> bool:
        """Check the proof, optionally against the leaf's bytes and a root known independently.

        Args:
            leaf_data: The record's (or header's) bytes; their leaf hash must equal ``leaf_hash``.
            root: A trusted root; when given it must equal ``self.root``.
        """
        if leaf_data is not None and hashlib.sha256(b"\x00" + leaf_data).digest() != self.leaf_hash:
            return False
        if root is not None and root != self.root:
            return False
        return verify_inclusion(self.leaf_hash, self.index, self.tree_size, self.path, self.root)

    def to_dict(self) -> dict[str, Any]:
        """JSON form, hashes in hex."""
        return {
            "height": self.height,
            "index": self.index,
            "tree_size": self.tree_size,
            "leaf_hash": self.leaf_hash.hex(),
            "path": [p.hex() for p in self.path],
            "root": self.root.hex(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Read :meth:`to_dict`'s form."""
        return cls(
            int(data["height"]),
            int(data["index"]),
            int(data["tree_size"]),
            bytes.fromhex(data["leaf_hash"]),
            tuple(bytes.fromhex(p) for p in data["path"]),
            bytes.fromhex(data["root"]),
        )


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """Proof that the chain of ``old_size`` blocks is a prefix of the chain of ``new_size``.

    The roots are history roots: the Merkle tree hash over the block headers
    (:meth:`ledger.chain.Ledger.history_root`).
    """

    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    path: tuple[bytes, ...]

    def verify(self, old_root: bytes | None = None, new_root: bytes | None = None) -> bool:
        """Check the proof, optionally against roots known independently."""
        if old_root is not None and old_root != self.old_root:
            return False
        if new_root is not None and new_root != self.new_root:
            return False
        return verify_consistency(
            self.old_size, self.new_size, self.old_root, self.new_root, self.path
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form, hashes in hex."""
        return {
            "old_size": self.old_size,
            "new_size": self.new_size,
            "old_root": self.old_root.hex(),
            "new_root": self.new_root.hex(),
            "path": [p.hex() for p in self.path],
        }
