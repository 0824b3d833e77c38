"""Timing pages through the Django test client, shared by the page benchmarks
(``cases_list.py``, ``city_pages.py``): a logged-in client per user, the median of
runs after a warm-up, and a page's query count."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def clients_for(users: dict[str, Any]) -> dict[str, Any]:
    """A test client logged in as each user, by the same keys."""
    from django.test import Client

    clients = {}
    for who, user in users.items():
        clients[who] = Client()
        clients[who].force_login(user)
    return clients


def median(fn: Callable[[], object], runs: int) -> float:
    """The median wall time of ``runs`` calls of ``fn`` after one warm-up call."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def page_getter(client: Any, url: str) -> Callable[[], object]:
    """A call that GETs ``url`` and insists on 200 OK."""

    def get():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response

    return get


def query_count(fn: Callable[[], object]) -> int:
    """How many SQL statements one call of ``fn`` runs."""
    from django.db import connection

    queries: list[str] = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        fn()
    return len(queries)
