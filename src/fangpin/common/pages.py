"""``PageRows``: a list endpoint's queryset, built into response rows one page at a time.

django-ninja's ``@paginate`` counts what an endpoint returns and slices it. An
endpoint that returns ``[Row(...) for x in queryset]`` has built a row for every
object in the user's region before the slice — a city's 178,000 households took
11 s for a page of 50. Returned as ``PageRows(queryset, build)``, only the page's
objects are read, and ``build`` turns them into rows together (so it can look up
what the page needs in one query).

``@paginated(page_size=…)``: every API list's pagination — ninja's ``PageNumberPagination``
with a bounded page number (``PageNumbers``). Unbounded, ``?page=99999999999999999999``
became an OFFSET the database cannot hold (SQLite: ``OverflowError``, PostgreSQL: bigint
out of range) — a server error. The bound shows in the OpenAPI document; past it is 422.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from ninja import Field, Schema
from ninja.pagination import PageNumberPagination, paginate

MAX_PAGE = 1_000_000  # with 100 rows a page: a hundred million rows, more than any list holds


class PageRows:
    def __init__(self, qs: QuerySet, build: Callable[[list[Any]], list[Any]]) -> None:
        self.qs = qs
        self.build = build

    def all(self) -> PageRows:  # ninja counts ``items.all().count()``
        return self

    def count(self) -> int:
        return self.qs.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, page: slice) -> list[Any]:
        return self.build(list(self.qs[page]))


class PageNumbers(PageNumberPagination):
    """Page-number pagination whose page number is 1 to ``MAX_PAGE`` (past the end: no items)."""

    class Input(Schema):
        page: int = Field(1, ge=1, le=MAX_PAGE)
        page_size: int | None = Field(None, ge=1)


def paginated(*, page_size: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """ninja's ``@paginate(PageNumbers, page_size=…)``, the view's parameter types resolved
    where the view is written: ninja reads them from its wrapper's module, where a name such
    as ``Year`` (``common.bounds``) under ``from __future__ import annotations`` is unknown."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(view, eval_str=True)
        wrapped = paginate(PageNumbers, page_size=page_size)(view)
        wrapped.__signature__ = signature  # type: ignore[attr-defined]
        return wrapped

    return decorate
