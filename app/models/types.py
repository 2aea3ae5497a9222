"""Column types and enum helpers shared by the models."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware datetime kept as UTC; naive values are refused."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class LabeledEnum(enum.StrEnum):
    """A string enum whose members carry a Japanese and an English label."""

    def __new__(cls, value: str, ja: str = "", en: str = ""):
        member = str.__new__(cls, value)
        member._value_ = value
        member.ja = ja or value
        member.en = en or value
        return member

    def label(self, locale: str = "ja") -> str:
        return self.en if str(locale).startswith("en") else self.ja


def enum_column(enum_cls: type[enum.Enum], length: int = 20) -> sa.Enum:
    """Store an enum by its value as a short string, portable across databases."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )
