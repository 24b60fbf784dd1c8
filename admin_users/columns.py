"""The column types the models use: times in UTC on every database, text compared by
code point on every database."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import DateTime, String, TypeDecorator


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every database.

    SQLite keeps no time zone, so values are stored as naive UTC there (always with
    microseconds, the same text for the same instant) and come back aware.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: admin-users stores times in UTC with tzinfo")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class KeyText(TypeDecorator):
    """Text compared by code point on every database."""

    impl = String
    cache_ok = True

    def __init__(self, length: int = 320):
        super().__init__(length)
        self.length = length

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(String(self.length, collation="C"))
        return dialect.type_descriptor(String(self.length))
