"""``fangpin apitoken USERNAME`` — issue an API token (printed once)."""

from django.core.management.base import BaseCommand, CommandError

from fangpin.accounts.models import ApiToken, User
from fangpin.common.audit import audit_record


class Command(BaseCommand):
    help = "Issue an API bearer token for a user; the token is printed once and stored only as a digest."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="a label for the token")

    def handle(self, *args, username: str, name: str, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no such user {username!r} (用户不存在)")
        token, key = ApiToken.issue(user=user, name=name)
        audit_record(
            actor=None,
            action="accounts.token.issued",
            obj=token,
            region_path=user.region.path if user.region else "",
            data={"user": username},
        )
        self.stdout.write(key)
