"""The page of one's own API tokens (我的接口令牌): list them, revoke one.

Every logged-in user manages their own tokens and nobody else's: the page lists only the
user's tokens, and another user's token is not found (404), the same answer as one that
does not exist. Tokens are issued with ``fangpin apitoken`` (docs/SECURITY.md "Tokens").
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import selectors, services
from .models import ApiToken


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    return render(
        request, "accounts/tokens.html", {"tokens": selectors.api_tokens_of(user=request.user)}
    )


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    try:
        services.api_token_revoke(
            token_id=token.pk,
            actor=request.user,
            owner=request.user,
            reason=services.REVOKED_BY_OWNER,
        )
    except services.AccountError as e:
        messages.error(request, e.message)
    else:
        messages.success(
            request,
            _("Token %(prefix)s… revoked: it authenticates nothing any more.")
            % {"prefix": token.prefix},
        )
    return redirect("accounts:tokens")
