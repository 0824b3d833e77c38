"""Reads of accounts: a user's own API tokens."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import ApiToken, User


def api_tokens_of(*, user: User) -> QuerySet[ApiToken]:
    """The user's tokens, newest first: live, expired and revoked alike."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-pk")
