"""The ledger's exceptions: one base class, one subclass per kind of problem."""

from __future__ import annotations


class LedgerError(Exception):
    """Base class of every error the ledger raises on purpose."""


class LedgerFormatError(LedgerError):
    """The input is not a ledger this version can read.

    Raised for a foreign or truncated file, a missing table, a wrong application id, or a schema
    version other than :data:`ledger.canonical.SCHEMA_VERSION` (older or newer). The CLI maps it
    to exit code 2.
    """


class RecordError(LedgerError, ValueError):
    """A record or header cannot be written canonically; the message names the field and value."""


class CertificateError(LedgerError, ValueError):
    """A certificate event breaks the certificate rules (double retirement, wrong holder, ...)."""
