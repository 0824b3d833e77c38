"""Template filters: masked ID numbers, money with two places and thousands separators."""

from __future__ import annotations

from django import template

from fangpin.common.idnumber import mask_id_number
from fangpin.common.money import Money

register = template.Library()


@register.filter
def mask_id(value: str | None) -> str:
    return mask_id_number(value) if value else ""


@register.filter
def yuan(value: Money | None) -> str:
    if value is None:
        return ""
    return f"{Money(value).amount:,.2f}"
