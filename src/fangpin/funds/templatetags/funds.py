"""Template filters of the fund pages."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def thousands(value: int | None) -> str:
    """A whole number with comma thousands separators (800,000), whatever the language."""
    return "" if value is None else f"{int(value):,}"
