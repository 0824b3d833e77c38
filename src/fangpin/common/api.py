"""What an API operation answers besides its result, declared once: ``ErrorOut`` and ``answers``.

Every error of ``/api/v1/`` has one body, ``{"detail": …}``:

- a refusal — 401 not signed in, 403 not allowed, 404 not found or not in your region, an
  ``HttpError`` — says why in ``detail``;
- a ``DomainError`` (any app's refusal, ``fangpin.config.api``) adds the ``field``;
- django-ninja's own validation (a year out of range, a missing field: 422) and the relief
  calculator list one ``FieldProblem`` per bad field in ``detail``;
- a request that cannot be read is 400: a body that is not JSON (``{"detail": "Cannot parse
  request body"}``), the NUL character anywhere (``web.middleware.NulCharacterMiddleware``).

``answers(Result, 404)`` is an operation's ``response=``: its result under 200 (or the
statuses given as a dict) and ``ErrorOut`` under 400, 401, 403 and 422 — every request is
read, signed in, allowed in the region and validated — plus the other statuses it may
answer (404 where its path names an object). The fuzz test (``tests/web/test_api_fuzz.py``)
fails on any status an operation does not declare.
"""

from __future__ import annotations

from typing import Any

from ninja import Schema

ALWAYS = (400, 401, 403, 422)  # readable, signed in, allowed, valid: every request is checked
NOT_FOUND = 404  # a path names an object (or a household) that may be absent or out of region


class FieldProblem(Schema):
    """One bad field, in django-ninja's (pydantic's) form: ``loc`` ends with its name."""

    type: str
    loc: list[str | int]
    msg: str
    ctx: dict[str, Any] | None = None


class ErrorOut(Schema):
    """Why the request was refused: a message, or one problem per bad field."""

    detail: str | list[FieldProblem]
    field: str | None = None


def answers(result: Any, *statuses: int) -> dict[int, Any]:
    """``response=`` of an operation: ``result`` (a schema for 200, or {status: schema}),
    ``ErrorOut`` for 400, 401, 403 and 422, and for each of ``statuses`` (404…)."""
    declared = dict(result) if isinstance(result, dict) else {200: result}
    for status in (*ALWAYS, *statuses):
        declared.setdefault(status, ErrorOut)
    return declared
