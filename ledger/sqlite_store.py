"""The SQLite backend: one file per ledger, for evaluation runs.

The file is an ordinary SQLite 3 database with ``PRAGMA application_id = 0x50324C47`` ("P2LG")
and ``PRAGMA user_version`` = :data:`~ledger.canonical.SCHEMA_VERSION`, so a foreign database or
a ledger from another version is recognised before anything is read. Tables::

    meta(key TEXT PRIMARY KEY, value TEXT)      format = p2p-gym-ledger, schema = 1
    blocks(height INTEGER PRIMARY KEY, hash BLOB, header BLOB, leaves BLOB, params_hash BLOB)
    records(height INTEGER, idx INTEGER, body BLOB, PRIMARY KEY (height, idx))
    params(hash BLOB PRIMARY KEY, body BLOB)

Writes use WAL journaling and one ``BEGIN IMMEDIATE ... COMMIT`` transaction per block, so a
process killed at any instant leaves a file that opens with every committed block and nothing of
the block being written. Triggers refuse ``UPDATE`` and ``DELETE`` (append-only); verification
does not rely on them, it recomputes every hash. ``durable=True`` (the default) also syncs each
commit to disk (``synchronous=FULL``), which survives power loss too; ``False`` uses
``synchronous=NORMAL``, still safe against a killed process.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Final

from ledger.canonical import SCHEMA_VERSION
from ledger.errors import LedgerError, LedgerFormatError
from ledger.store import StoredBlock

APPLICATION_ID: Final = 0x50324C47
"""``PRAGMA application_id`` of a p2p-gym ledger file ("P2LG")."""
FORMAT_NAME: Final = "p2p-gym-ledger"
_SQLITE_MAGIC: Final = b"SQLite format 3\x00"
_TABLES: Final = ("meta", "blocks", "records", "params")

_SCHEMA: Final = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE blocks (
    height INTEGER PRIMARY KEY, hash BLOB NOT NULL, header BLOB NOT NULL,
    leaves BLOB NOT NULL, params_hash BLOB NOT NULL);
CREATE TABLE records (
    height INTEGER NOT NULL, idx INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (height, idx)) WITHOUT ROWID;
CREATE TABLE params (hash BLOB PRIMARY KEY, body BLOB NOT NULL);
INSERT INTO meta VALUES ('format', '{FORMAT_NAME}'), ('schema', '{SCHEMA_VERSION}');
""" + "".join(
    f"CREATE TRIGGER {t}_no_{op} BEFORE {op.upper()} ON {t} "
    f"BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;\n"
    for t in _TABLES
    for op in ("update", "delete")
)


class SqliteStore:
    """A ledger file (see the module docstring).

    Args:
        path: The file.
        create: Create the file if it does not exist (an existing file is opened and checked).
        read_only: Open without write access (verification, queries).
        durable: Sync every commit to disk (``synchronous=FULL``).

    Raises:
        LedgerFormatError: If the file does not exist (and ``create`` is false), is not a SQLite
            database, is a database but not a ledger, or has another schema version.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        create: bool = False,
        read_only: bool = False,
        durable: bool = True,
    ) -> None:
        self.path = Path(path)
        fresh = create and (not self.path.exists() or self.path.stat().st_size == 0)
        if fresh and read_only:
            raise LedgerFormatError(f"{self.path}: cannot create a ledger read-only")
        if not fresh:
            _check_file_header(self.path)
        try:
            if read_only:
                uri = self.path.resolve().as_uri() + "?mode=ro"
                conn = sqlite3.connect(uri, uri=True, isolation_level=None)
            else:
                conn = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise LedgerFormatError(f"{self.path}: cannot open: {exc}") from None
        self._conn: sqlite3.Connection | None = conn
        try:
            if fresh:
                self._initialise()
            self._check_identity()
            if not read_only:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            row = conn.execute("SELECT max(height) FROM blocks").fetchone()
        except sqlite3.Error as exc:
            conn.close()
            self._conn = None
            raise LedgerFormatError(f"{self.path}: not a readable ledger: {exc}") from None
        except LedgerFormatError:
            conn.close()
            self._conn = None
            raise
        self._len = 0 if row[0] is None else row[0] + 1
        self._read_only = read_only

    def _initialise(self) -> None:
        conn = self._db
        # Identity and tables are written before WAL is switched on, straight into the main
        # file, so that even a file whose WAL is lost still says what it is.
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.executescript("BEGIN;" + _SCHEMA + "COMMIT;")

    def _check_identity(self) -> None:
        conn = self._db
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if app_id != APPLICATION_ID:
            raise LedgerFormatError(
                f"{self.path}: a SQLite database but not a p2p-gym ledger "
                f"(application_id {app_id:#x}, expected {APPLICATION_ID:#x})"
            )
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            hint = (
                "written by a newer p2p-gym: upgrade to read it"
                if version > SCHEMA_VERSION
                else "an older format this version cannot read"
            )
            raise LedgerFormatError(
                f"{self.path}: ledger schema version {version}, this p2p-gym reads version "
                f"{SCHEMA_VERSION} ({hint})"
            )
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        missing = [t for t in _TABLES if t not in names]
        if missing:
            raise LedgerFormatError(f"{self.path}: not a complete ledger: missing tables {missing}")
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != FORMAT_NAME or meta.get("schema") != str(SCHEMA_VERSION):
            raise LedgerFormatError(
                f"{self.path}: meta table says format {meta.get('format')!r} schema "
                f"{meta.get('schema')!r}; expected {FORMAT_NAME!r} schema {SCHEMA_VERSION}"
            )

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise LedgerError(f"{self.path}: the ledger is closed")
        return self._conn

    @property
    def keeps_records(self) -> bool:
        """Always ``True``: a file keeps everything."""
        return True

    def __len__(self) -> int:
        return self._len

    def append(self, block: StoredBlock) -> None:
        """Write one block in one transaction."""
        if self._read_only:
            raise LedgerError(f"{self.path}: opened read-only")
        conn = self._db
        conn.execute("BEGIN IMMEDIATE")
        try:
            (count,) = conn.execute("SELECT count(*) FROM blocks").fetchone()
            if count != block.height:
                raise LedgerError(
                    f"{self.path}: the file now has {count} blocks, this writer expected "
                    f"{block.height}: another process is writing to it"
                )
            conn.execute(
                "INSERT OR IGNORE INTO params VALUES (?, ?)", (block.params_hash, block.params)
            )
            conn.executemany(
                "INSERT INTO records VALUES (?, ?, ?)",
                [(block.height, i, body) for i, body in enumerate(block.records)],
            )
            conn.execute(
                "INSERT INTO blocks VALUES (?, ?, ?, ?, ?)",
                (block.height, block.hash, block.header, block.leaves, block.params_hash),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._len = block.height + 1

    def _query(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            # A damaged page surfaces only when read: say so as a ledger error, not a traceback.
            raise LedgerFormatError(f"{self.path}: damaged file: {exc}") from None

    def _block_column(self, height: int, column: str) -> bytes:
        rows = self._query(f"SELECT {column} FROM blocks WHERE height=?", (height,))
        row = rows[0] if rows else None
        if row is None:
            raise IndexError(f"block {height} is not in {self.path} ({self._len} blocks)")
        return bytes(row[0])

    def header(self, height: int) -> bytes:
        """Header bytes of block ``height``."""
        return self._block_column(height, "header")

    def block_hash(self, height: int) -> bytes:
        """Stored hash of block ``height``."""
        return self._block_column(height, "hash")

    def leaves(self, height: int) -> bytes:
        """Concatenated leaf hashes of block ``height``."""
        return self._block_column(height, "leaves")

    def records(self, height: int) -> list[bytes]:
        """Record bytes of block ``height`` in index order."""
        rows = self._query("SELECT body FROM records WHERE height=? ORDER BY idx", (height,))
        return [bytes(r[0]) for r in rows]

    def params(self, params_hash: bytes) -> bytes | None:
        """Clearing parameters by hash."""
        rows = self._query("SELECT body FROM params WHERE hash=?", (params_hash,))
        return bytes(rows[0][0]) if rows else None

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _check_file_header(path: Path) -> None:
    """Recognise a ledger file from its first 100 bytes, before SQLite reads it."""
    try:
        with path.open("rb") as f:
            head = f.read(100)
    except FileNotFoundError:
        raise LedgerFormatError(f"{path}: no such file") from None
    except OSError as exc:
        raise LedgerFormatError(f"{path}: cannot read: {exc.strerror}") from None
    if not head.startswith(_SQLITE_MAGIC):
        what = "an empty file" if not head else "not a SQLite database"
        raise LedgerFormatError(f"{path}: not a p2p-gym ledger ({what})")
    if len(head) < 100:
        raise LedgerFormatError(f"{path}: truncated: the SQLite header is incomplete")
    app_id = int.from_bytes(head[68:72], "big")
    if app_id != APPLICATION_ID:
        raise LedgerFormatError(
            f"{path}: a SQLite database but not a p2p-gym ledger "
            f"(application_id {app_id:#x}, expected {APPLICATION_ID:#x})"
        )
    raw_page = int.from_bytes(head[16:18], "big")
    page_size = 65536 if raw_page == 1 else raw_page
    size = path.stat().st_size
    if page_size < 512 or size % page_size:
        raise LedgerFormatError(f"{path}: truncated: the file is not a whole number of pages")
    pages = int.from_bytes(head[28:32], "big")
    # The header's page count is valid when its change counter matches "version-valid-for"; it
    # may run ahead of the file only while a WAL still holds the pages (a checkpoint cut short).
    wal = path.with_name(path.name + "-wal")
    if head[24:28] == head[92:96] and pages * page_size > size and not wal.exists():
        raise LedgerFormatError(
            f"{path}: truncated: {size} bytes, the database header says {pages * page_size}"
        )
