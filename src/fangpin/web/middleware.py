"""Language: Chinese unless the user chose English with the switch.

Django's ``LocaleMiddleware`` would follow the browser's Accept-Language; a
county office's shared computers and the cadres' phones are often set to
English while their users read Chinese, so Fangpin ignores the header and uses
``zh-hans`` until the language switch (a cookie) says otherwise.
"""

from __future__ import annotations

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class ChineseFirstLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        supported = {code for code, _ in settings.LANGUAGES}
        language = chosen if chosen in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
