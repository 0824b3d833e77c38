"""``MoneyField``: a ``Money`` in Python, integer fen (BIGINT) in the database."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Cast

from .money import Money


class MoneyField(models.BigIntegerField):
    description = "An exact yuan amount stored as integer fen"

    def from_db_value(self, value: int | None, expression: Any, connection: Any) -> Money | None:
        if value is None:
            return None
        return Money.from_fen(int(value))

    def to_python(self, value: Any) -> Money | None:
        if value is None or isinstance(value, Money):
            return value
        try:
            return Money(value)
        except (TypeError, ValueError) as exc:
            raise ValidationError(str(exc), code="invalid") from exc

    def get_prep_value(self, value: Any) -> int | None:
        if value is None:
            return None
        if not isinstance(value, Money):
            value = Money(value)
        return value.fen

    def value_to_string(self, obj: models.Model) -> str:
        value = self.value_from_object(obj)
        return "" if value is None else str(value)

    def formfield(self, **kwargs: Any) -> Any:
        from django import forms

        defaults = {"form_class": forms.DecimalField, "decimal_places": 2, "max_digits": 16}
        defaults.update(kwargs)
        return models.Field.formfield(self, **defaults)


def fen_of(lookup: str) -> Cast:
    """A money field read as its integer fen, for set-based reads into a frame:
    ``qs.values_list("id", fen_of("amount"))`` (no ``Money`` built per row)."""
    return Cast(lookup, models.BigIntegerField())
