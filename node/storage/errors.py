"""The error of a database that cannot be used, whichever the backend."""

from __future__ import annotations

__all__ = ["StorageError"]


class StorageError(Exception):
    """The database cannot be used (unreadable, not a database, newer schema, a server
    that cannot be reached)."""
