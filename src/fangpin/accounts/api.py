"""API authentication: a logged-in session (with CSRF) or a bearer token.

A token authenticates only while it is live — not revoked, not expired — and its user is
active (``ApiToken.lookup``); anything else is answered 401.
"""

from __future__ import annotations

from django.utils import timezone
from ninja.security import HttpBearer, django_auth

from .models import ApiToken


class TokenAuth(HttpBearer):
    def authenticate(self, request, token: str):
        found = ApiToken.lookup(token)
        if found is None:
            return None
        ApiToken.objects.filter(pk=found.pk).update(last_used_at=timezone.now())
        request.user = found.user
        return found.user


api_auth = [TokenAuth(), django_auth]
