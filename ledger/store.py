"""Where blocks are kept: the storage interface and the in-memory backend.

A backend stores, per block: the header bytes, the block hash, the concatenated leaf hashes of
its records (32 bytes each), optionally the record bytes, and the clearing parameters by hash.
It only appends; :mod:`ledger.verify` recomputes everything it stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoredBlock:
    """Everything one block stores.

    Attributes:
        height: Block height.
        header: Canonical header bytes.
        hash: SHA-256 of ``header``.
        leaves: Leaf hashes of the records, concatenated (32 bytes each).
        records: Record bytes, in block order.
        params_hash: Hash of ``params``.
        params: Canonical JSON of the clearing parameters.
    """

    height: int
    header: bytes
    hash: bytes
    leaves: bytes
    records: list[bytes]
    params_hash: bytes
    params: bytes


class LedgerStore(Protocol):
    """What a storage backend provides. Heights run from 0 to ``len(store) - 1``."""

    @property
    def keeps_records(self) -> bool:
        """Whether record bytes are kept (``False``: headers and hashes only)."""
        ...

    def __len__(self) -> int:
        """Number of blocks stored."""
        ...

    def append(self, block: StoredBlock) -> None:
        """Store one block atomically: all of it or nothing."""
        ...

    def header(self, height: int) -> bytes:
        """Header bytes of block ``height``."""
        ...

    def block_hash(self, height: int) -> bytes:
        """Stored hash of block ``height``."""
        ...

    def leaves(self, height: int) -> bytes:
        """Concatenated leaf hashes of block ``height``."""
        ...

    def records(self, height: int) -> list[bytes] | None:
        """Record bytes of block ``height``; ``None`` when records are not kept."""
        ...

    def params(self, params_hash: bytes) -> bytes | None:
        """Canonical clearing parameters with this hash, if stored."""
        ...

    def close(self) -> None:
        """Release resources (idempotent)."""
        ...


class MemoryStore:
    """Blocks in Python lists: fast, for training runs.

    Args:
        keep_records: ``False`` keeps only headers, block hashes and leaf hashes (about 32 bytes
            per record): inclusion and consistency proofs still work, record contents and
            certificates cannot be checked or queried.
    """

    def __init__(self, keep_records: bool = True) -> None:
        self._keep = keep_records
        self._headers: list[bytes] = []
        self._hashes: list[bytes] = []
        self._leaves: list[bytes] = []
        self._records: list[list[bytes]] = []
        self._params: dict[bytes, bytes] = {}

    @property
    def keeps_records(self) -> bool:
        """Whether record bytes are kept."""
        return self._keep

    def __len__(self) -> int:
        return len(self._headers)

    def append(self, block: StoredBlock) -> None:
        """Store one block."""
        self._params.setdefault(block.params_hash, block.params)
        if self._keep:
            self._records.append(list(block.records))
        self._leaves.append(block.leaves)
        self._hashes.append(block.hash)
        self._headers.append(block.header)

    def header(self, height: int) -> bytes:
        """Header bytes of block ``height``."""
        return self._headers[height]

    def block_hash(self, height: int) -> bytes:
        """Stored hash of block ``height``."""
        return self._hashes[height]

    def leaves(self, height: int) -> bytes:
        """Concatenated leaf hashes of block ``height``."""
        return self._leaves[height]

    def records(self, height: int) -> list[bytes] | None:
        """Record bytes of block ``height``, or ``None`` if not kept."""
        return self._records[height] if self._keep else None

    def params(self, params_hash: bytes) -> bytes | None:
        """Clearing parameters by hash."""
        return self._params.get(params_hash)

    def close(self) -> None:
        """Nothing to release."""
