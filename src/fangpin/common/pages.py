"""``PageRows``: a list endpoint's queryset, built into response rows one page at a time.

django-ninja's ``@paginate`` counts what an endpoint returns and slices it. An
endpoint that returns ``[Row(...) for x in queryset]`` has built a row for every
object in the user's region before the slice — a city's 178,000 households took
11 s for a page of 50. Returned as ``PageRows(queryset, build)``, only the page's
objects are read, and ``build`` turns them into rows together (so it can look up
what the page needs in one query).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet


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
