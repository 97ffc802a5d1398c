"""Where blocks are kept: the storage interface and the in-memory backend.

A backend stores, per block: the header bytes, the block hash, the concatenated leaf hashes of
its records (32 bytes each), optionally the record bytes, and the clearing parameters by hash.
It only appends; :mod:`ledger.verify` recomputes everything it stores.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol, overload

import numpy as np
from numpy.typing import NDArray


class RecordBlob(Sequence[bytes]):
    """A block's records as one buffer and their offsets: record ``i`` is
    ``data[offsets[i]:offsets[i + 1]]``.

    What the compiled block writer (:func:`ledger.hashing.encode_block`) produces: one buffer
    instead of a Python object per record. It reads as a sequence of ``bytes``; a record is cut
    out when it is read.

    Args:
        data: The records, back to back (uint8 array or bytes; not copied, not to be changed).
        offsets: ``n + 1`` ascending int64 offsets, the first 0 and the last ``len(data)``.
    """

    __slots__ = ("_data", "_offsets")

    def __init__(self, data: NDArray[np.uint8] | bytes, offsets: NDArray[np.int64]) -> None:
        self._data = memoryview(data) if isinstance(data, bytes) else data.data
        self._offsets = offsets

    def __len__(self) -> int:
        return int(self._offsets.shape[0]) - 1

    @overload
    def __getitem__(self, index: int) -> bytes: ...

    @overload
    def __getitem__(self, index: slice) -> list[bytes]: ...

    def __getitem__(self, index: int | slice) -> bytes | list[bytes]:
        if isinstance(index, slice):
            return self.tolist()[index]
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"record {index} is outside a block of {n} records")
        i = index % n
        return self._data[int(self._offsets[i]) : int(self._offsets[i + 1])].tobytes()

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.tolist())

    def tolist(self) -> list[bytes]:
        """Every record as ``bytes``, in order."""
        data = self._data.tobytes()
        bounds = self._offsets.tolist()
        return [data[a:b] for a, b in pairwise(bounds)]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RecordBlob):
            other = other.tolist()
        return isinstance(other, (list, tuple)) and self.tolist() == list(other)

    __hash__ = None  # type: ignore[assignment]  # a sequence compares by value, like a list

    def __repr__(self) -> str:
        return f"RecordBlob({len(self)} records, {len(self._data)} bytes)"


@dataclass(frozen=True, slots=True)
class StoredBlock:
    """Everything one block stores.

    Attributes:
        height: Block height.
        header: Canonical header bytes.
        hash: SHA-256 of ``header``.
        leaves: Leaf hashes of the records, concatenated (32 bytes each).
        records: Record bytes, in block order (a list, or a :class:`RecordBlob`).
        params_hash: Hash of ``params``.
        params: Canonical JSON of the clearing parameters.
    """

    height: int
    header: bytes
    hash: bytes
    leaves: bytes
    records: Sequence[bytes]
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
        self._records: list[list[bytes] | RecordBlob] = []
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
            records = block.records
            # A blob is already immutable; a list is copied so the caller cannot change it.
            self._records.append(records if isinstance(records, RecordBlob) else list(records))
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
        if not self._keep:
            return None
        records = self._records[height]
        return records.tolist() if isinstance(records, RecordBlob) else records

    def params(self, params_hash: bytes) -> bytes | None:
        """Clearing parameters by hash."""
        return self._params.get(params_hash)

    def close(self) -> None:
        """Nothing to release."""
