"""``fangpin apitoken`` — API tokens (接口令牌) from the command line.

    fangpin apitoken USERNAME [--days N] [--name TEXT]   issue one; the key is printed once
    fangpin apitoken USERNAME --list                     the user's tokens
    fangpin apitoken --revoke ID                         revoke one

Issuing and revoking go through ``accounts.services`` (audited; docs/SECURITY.md "Tokens").
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from fangpin.accounts import services
from fangpin.accounts.models import ApiToken, User

ERR_NO_USER = "no such user {username!r} (用户不存在)"
ERR_USERNAME_NEEDED = "name the user: fangpin apitoken USERNAME (需要用户名)"
ERR_REVOKE_ALONE = "--revoke ID takes no user name, --days or --name (撤销时只需令牌编号)"
COLUMNS = ("id", "name", "prefix", "created", "expires", "last used", "revoked")


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "-"


class Command(BaseCommand):
    help = (
        "Issue an API bearer token for a user (printed once, stored only as a digest), "
        "list a user's tokens (--list) or revoke one (--revoke ID)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?")
        parser.add_argument("--name", default="", help="a label for the token")
        parser.add_argument(
            "--days", type=int, help="how long the token lasts (default FANGPIN_API_TOKEN_DAYS)"
        )
        what = parser.add_mutually_exclusive_group()
        what.add_argument(
            "--list", dest="list_tokens", action="store_true", help="list the user's tokens"
        )
        what.add_argument("--revoke", type=int, metavar="ID", help="revoke token ID")

    def handle(self, *args, username, name, days, list_tokens, revoke, **options):
        try:
            if revoke is not None:
                if username or name or days is not None:
                    raise CommandError(ERR_REVOKE_ALONE)
                token = services.api_token_revoke(
                    token_id=revoke, actor=None, reason=services.REVOKED_BY_COMMAND
                )
                self.stdout.write(f"revoked API token {token.pk} of {token.user.username}")
                return
            if not username:
                raise CommandError(ERR_USERNAME_NEEDED)
            user = User.objects.select_related("region").filter(username=username).first()
            if user is None:
                raise CommandError(ERR_NO_USER.format(username=username))
            if list_tokens:
                self._list(user)
                return
            _, key = services.api_token_issue(user=user, name=name, days=days)
        except services.AccountError as e:
            raise CommandError(e.message) from e
        self.stdout.write(key)

    def _list(self, user: User) -> None:
        rows = [COLUMNS]
        for t in ApiToken.objects.filter(user=user).order_by("created_at", "pk"):
            rows.append(
                (
                    str(t.pk),
                    t.name or "-",
                    t.prefix + "…",
                    _when(t.created_at),
                    _when(t.expires_at) + (" (expired)" if t.is_expired else ""),
                    _when(t.last_used_at),
                    _when(t.revoked_at),
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
        for r in rows:
            self.stdout.write(
                "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
            )
