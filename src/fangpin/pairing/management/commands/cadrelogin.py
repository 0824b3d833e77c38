"""``fangpin cadrelogin PHONE USERNAME`` — give a cadre a login; prints a password once.

A village cadre gets the role ``village_cadre`` (their village in scope), any other
cadre ``helper_cadre`` (only the households paired with them in scope).
"""

from __future__ import annotations

import secrets

from django.core.management.base import BaseCommand, CommandError

from fangpin.pairing.cadres import cadre_login_create
from fangpin.pairing.errors import PairingError
from fangpin.pairing.models import Cadre


class Command(BaseCommand):
    help = "Create a login for a cadre (by phone number). 为帮扶干部开通账号"

    def add_arguments(self, parser):
        parser.add_argument("phone", help="the cadre's phone number as imported")
        parser.add_argument("username", help="the new login's user name")

    def handle(self, *args, phone: str, username: str, **options):
        cadre = Cadre.objects.select_related("region").filter(phone=phone.strip()).first()
        if cadre is None:
            raise CommandError(f"no cadre with phone {phone!r} (无此电话的干部)")
        password = secrets.token_urlsafe(12)
        try:
            user = cadre_login_create(cadre=cadre, username=username, password=password)
        except PairingError as exc:
            raise CommandError(exc.message) from None
        except Exception as exc:  # a taken user name fails validation in user_create
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{user.username} ({user.get_role_display()}, {cadre.region.name}) password: {password}"
        )
