"""Users with one role and one region node; API tokens.

A user sees the subtree of their region node and nothing else; what they may do
there depends on their role (see ``permissions``).
"""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CITY_ADMIN = "city_admin", _("City administrator 市级管理员")
    COUNTY_OFFICER = "county_officer", _("County poverty-alleviation officer 县扶贫办")
    TOWNSHIP_OFFICER = "township_officer", _("Township officer 乡镇干部")
    VILLAGE_CADRE = "village_cadre", _("Village cadre 村干部")
    INSURER_ADJUSTER = "insurer_adjuster", _("Insurer adjuster 保险核损员")
    AUDITOR = "auditor", _("Auditor 审计")
    # a paired cadre from a work unit (e.g. 县审计局) who sees only their paired households
    HELPER_CADRE = "helper_cadre", _("Helper cadre 帮扶干部")


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=24, choices=Role.choices, blank=True)
    region = models.ForeignKey(
        "regions.Region",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        verbose_name=_("region"),
    )

    class Meta:
        verbose_name = _("user 用户")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=[""] + [r.value for r in Role]), name="user_role_valid"
            ),
        ]

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role else ""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the API. Only its SHA-256 digest is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=64, blank=True)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=8, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("API token")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @classmethod
    def issue(cls, *, user: User, name: str = "") -> tuple[ApiToken, str]:
        """Create a token; the clear key is returned once and never stored."""
        key = "fp_" + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, digest=_digest(key), prefix=key[:8])
        return token, key

    @classmethod
    def lookup(cls, key: str) -> ApiToken | None:
        return (
            cls.objects.select_related("user", "user__region")
            .filter(digest=_digest(key), revoked=False, user__is_active=True)
            .first()
        )
