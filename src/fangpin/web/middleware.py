"""Language: Chinese unless the user chose English with the switch; a refusal no view
caught answers 400 with its message.

Django's ``LocaleMiddleware`` would follow the browser's Accept-Language; a
county office's shared computers and the cadres' phones are often set to
English while their users read Chinese, so Fangpin ignores the header and uses
``zh-hans`` until the language switch (a cookie) says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.shortcuts import render
from django.utils import translation

from fangpin.common.errors import DomainError


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
