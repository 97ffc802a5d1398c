"""The hash-chained ledger: blocks, Merkle proofs, origin certificates, storage, verification.

A pure library: standard library and numpy, and nothing from the rest of p2p-gym (pandas only
inside the origin queries of :mod:`ledger.origin`, and numba only inside the compiled block
hashing of :mod:`ledger.hashing`, each imported when it first runs).

* :class:`Ledger` appends one block per delivery slot and gives inclusion and consistency proofs;
  :meth:`Ledger.in_memory` for training, :meth:`Ledger.open` for a SQLite file.
* :class:`CertificateRegistry` turns each slot's metered generation, trades, storage and
  consumption into certificate events (EnergyTag Granular Certificates, in Wh).
* :func:`verify` (and :meth:`Ledger.verify`) recomputes every hash, root and link, checks
  certificate conservation and, with a replay hook, re-clears the recorded orders.

The byte format is documented in :mod:`ledger.canonical`, :mod:`ledger.records`,
:mod:`ledger.block` and :mod:`ledger.sqlite_store`.
"""

from ledger.block import GENESIS_PREV_HASH, BlockHeader
from ledger.canonical import SCHEMA_VERSION, canonical_json
from ledger.certificates import CertificateBook, CertificateRegistry, SlotTagTotals
from ledger.chain import EncodedAppend, Ledger, PendingAppends
from ledger.errors import CertificateError, LedgerError, LedgerFormatError, RecordError
from ledger.merkle import ConsistencyProof, InclusionProof, verify_consistency, verify_inclusion
from ledger.records import Record, RecordKind
from ledger.sqlite_store import SqliteStore
from ledger.store import MemoryStore
from ledger.verify import Failure, ReplayHook, VerifyReport, verify

__all__ = [
    "GENESIS_PREV_HASH",
    "SCHEMA_VERSION",
    "BlockHeader",
    "CertificateBook",
    "CertificateError",
    "CertificateRegistry",
    "ConsistencyProof",
    "EncodedAppend",
    "Failure",
    "InclusionProof",
    "Ledger",
    "LedgerError",
    "LedgerFormatError",
    "MemoryStore",
    "PendingAppends",
    "Record",
    "RecordError",
    "RecordKind",
    "ReplayHook",
    "SlotTagTotals",
    "SqliteStore",
    "VerifyReport",
    "canonical_json",
    "verify",
    "verify_consistency",
    "verify_inclusion",
]
