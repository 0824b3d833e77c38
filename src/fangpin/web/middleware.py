"""Language: Chinese unless the user chose English with the switch; a request carrying
the NUL character is refused; a refusal no view caught answers 400 with its message.

Django's ``LocaleMiddleware`` would follow the browser's Accept-Language; a
county office's shared computers and the cadres' phones are often set to
English while their users read Chinese, so Fangpin ignores the header and uses
``zh-hans`` until the language switch (a cookie) says otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.middleware.locale import LocaleMiddleware
from django.shortcuts import render
from django.utils import translation

from fangpin.common.errors import DomainError

ERR_NUL = "the request contains the NUL character (U+0000), which no field takes (请求中含有空字符)"


class ChineseFirstLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        supported = {code for code, _ in settings.LANGUAGES}
        language = chosen if chosen in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


class DomainErrorMiddleware:
    """A page's ``DomainError`` that its view did not catch — ``?year=0`` on a report
    (``common.bounds``), an amount of ``1e30`` — answers 400 with the message and the field,
    in the site's layout, instead of a server error. The API answers the same errors itself
    (422, ``config.api``); views that re-render a form with the message on its field keep
    doing so."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DomainError):
            return None
        context = {"message": exception.message, "field": exception.field}
        return render(request, "web/refused.html", context, status=400)


class NulCharacterMiddleware:
    """Refuse, with 400, a request that carries the NUL character (U+0000) in its path, its
    query, its cookies, a form or a JSON body.

    PostgreSQL cannot hold NUL in text: a query that compares with one fails in the driver
    (``ValueError``), a server error on any list's ``?q=%00`` or a household number in a
    JSON body — SQLite takes it, so only the PostgreSQL suite saw it. Django's form fields
    refuse NUL; ``request.GET``, django-ninja's parameters and JSON bodies did not. Checked
    here once, before the session is read (a cookie is a query too), no view has to. A
    multipart body is left to its form fields (its files are data, not text)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not _carries_nul(request):
            return self.get_response(request)
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": ERR_NUL}, status=400)
        return HttpResponseBadRequest(ERR_NUL, content_type="text/plain; charset=utf-8")


def _carries_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path or _has_nul(
        list(request.GET.lists()) + list(request.COOKIES.items())
    ):
        return True
    if request.content_type == "application/x-www-form-urlencoded":
        return _has_nul(list(request.POST.lists()))
    if request.content_type == "application/json" and b"u0000" in request.body.lower():
        try:  # the escape ``\u0000`` in the text, inside a string (not ``\\u0000``)
            return _has_nul(json.loads(request.body))
        except ValueError:  # not JSON: the API answers that itself (400)
            return False
    return False


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False
