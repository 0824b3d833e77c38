"""Users with one role and one region node; API tokens.

A user sees the subtree of their region node and nothing else; what they may do
there depends on their role (see ``permissions``).

An API token lasts ``FANGPIN_API_TOKEN_DAYS`` days unless revoked; a new password or a
deactivation revokes all of the user's tokens in the same transaction (``User.save``,
docs/SECURITY.md "Tokens").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fangpin.common.audit import Action, audit_record_many
from fangpin.common.models import AuditEvent

REVOKED_PASSWORD = "password changed"  # noqa: S105 (a reason, not a password)
REVOKED_DEACTIVATED = "user deactivated"


class Role(models.TextChoices):
    CITY_ADMIN = "city_admin", _("City administrator 市级管理员")
    COUNTY_OFFICER = "county_officer", _("County poverty-alleviation officer 县扶贫办")
    TOWNSHIP_OFFICER = "township_officer", _("Township officer 乡镇干部")
    VILLAGE_CADRE = "village_cadre", _("Village cadre 村干部")
    INSURER_ADJUSTER = "insurer_adjuster", _("Insurer adjuster 保险核损员")
    AUDITOR = "auditor", _("Auditor 审计")
    # a paired cadre from a work unit (e.g. 县审计局) who sees only their paired households
    HELPER_CADRE = "helper_cadre", _("Helper cadre 帮扶干部")
    # a department's data officer (部门数据员): uploads that department's feeds for a region,
    # sees their batches and the hit rates of those feeds, and no household
    DEPARTMENT_OFFICER = "department_officer", _("Department data officer")


class Department(models.TextChoices):
    """The departments that send feeds (部门); which feed kinds each sends is the feeds
    app's to say (``feeds.schemas.SENT_BY``)."""

    MEDICAL_INSURANCE = "medical_insurance", _("Medical insurance bureau")
    EDUCATION = "education", _("Education bureau")
    PUBLIC_SECURITY = "public_security", _("Public security bureau")
    EMERGENCY = "emergency", _("Emergency management bureau")
    AGRICULTURE = "agriculture", _("Agriculture and rural affairs bureau")
    CIVIL_AFFAIRS = "civil_affairs", _("Civil affairs bureau")
    DISABILITY = "disability", _("Disabled persons' federation")
    HOUSING = "housing", _("Housing and real-estate registration")
    VEHICLES = "vehicles", _("Vehicle administration")
    MARKET = "market", _("Market regulation bureau")
    FINANCE = "finance", _("Finance bureau")


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
    # only for a department data officer: the department whose feeds they send
    department = models.CharField(
        _("department"), max_length=24, choices=Department.choices, blank=True
    )

    class Meta:
        verbose_name = _("user 用户")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=[""] + [r.value for r in Role]), name="user_role_valid"
            ),
            # a department data officer has a department; no one else has one
            models.CheckConstraint(
                condition=(
                    models.Q(
                        role=Role.DEPARTMENT_OFFICER, department__in=[d.value for d in Department]
                    )
                    | (~models.Q(role=Role.DEPARTMENT_OFFICER) & models.Q(department=""))
                ),
                name="user_department_iff_department_officer",
            ),
        ]

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role else ""

    def set_unusable_password(self) -> None:
        super().set_unusable_password()
        self._password_dropped = True

    def save(self, *args, **kwargs) -> None:
        """Save; a new password or a deactivation also revokes the user's API tokens, in the
        same transaction.

        Every path that changes a password or deactivates a user ends here — the
        password-change page, the admin's user form and its password form, ``changepassword``,
        a service, the shell — so this is the one place that sees them all. A new password
        is one set by ``set_password`` (Django's own marker, ``_password``, the one that
        drives ``password_validation.password_changed``) or ``set_unusable_password``; the
        re-hash of the same password at login (``check_password``'s setter clears the
        marker) is not a new password and keeps the tokens. (A bulk ``QuerySet.update`` of
        ``is_active`` does not come here; ``ApiToken.lookup`` refuses an inactive user's
        token all the same.)
        """
        reason = self._tokens_revoke_reason(kwargs.get("update_fields"))
        with transaction.atomic(using=kwargs.get("using")):
            super().save(*args, **kwargs)
            if reason:
                ApiToken.objects.filter(user=self).live().revoke(actor=None, reason=reason)
        self._password_dropped = False

    def _tokens_revoke_reason(self, update_fields) -> str:
        if self._state.adding:
            return ""  # a new user has no tokens yet
        fields = None if update_fields is None else set(update_fields)
        password_new = self._password is not None or getattr(self, "_password_dropped", False)
        if password_new and (fields is None or "password" in fields):
            return REVOKED_PASSWORD
        if not self.is_active and (fields is None or "is_active" in fields):
            return REVOKED_DEACTIVATED
        return ""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def live(self) -> ApiTokenQuerySet:
        """Tokens that authenticate now: not revoked, not expired."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())

    def revoke(self, *, actor: User | None, reason: str) -> list[ApiToken]:
        """Revoke these tokens (those not yet revoked); one audit row each, in one transaction."""
        with transaction.atomic():
            tokens = list(
                self.filter(revoked_at__isnull=True)
                .select_related("user__region")
                .select_for_update(of=("self",))
                .order_by("pk")
            )
            if not tokens:
                return []
            now = timezone.now()
            ApiToken.objects.filter(pk__in=[t.pk for t in tokens]).update(revoked_at=now)
            events = []
            for token in tokens:
                token.revoked_at = now
                events.append(
                    AuditEvent(
                        actor=actor if getattr(actor, "pk", None) else None,
                        action=Action.TOKEN_REVOKED,
                        object_type=ApiToken._meta.label_lower,
                        object_id=str(token.pk),
                        region_path=token.user.region.path if token.user.region else "",
                        reason=reason,
                        data={"user": token.user.username, "name": token.name},
                    )
                )
            audit_record_many(events)
            return tokens


class ApiToken(models.Model):
    """A bearer token for the API (接口令牌). Only its SHA-256 digest is stored; it
    authenticates until ``expires_at`` unless revoked (``revoked_at``)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=64, blank=True)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=8, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")),
                name="apitoken_expires_after_created",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    @classmethod
    def issue(cls, *, user: User, name: str = "", days: int | None = None) -> tuple[ApiToken, str]:
        """Create a token lasting ``days`` (``FANGPIN_API_TOKEN_DAYS``); the clear key is
        returned once and never stored. ``accounts.services.api_token_issue`` checks the
        input and writes the audit row."""
        days = settings.FANGPIN_API_TOKEN_DAYS if days is None else days
        key = "fp_" + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            digest=_digest(key),
            prefix=key[:8],
            expires_at=timezone.now() + dt.timedelta(days=days),
        )
        return token, key

    @classmethod
    def lookup(cls, key: str) -> ApiToken | None:
        """The live token of an active user whose key this is, else None."""
        return (
            cls.objects.live()
            .select_related("user", "user__region")
            .filter(digest=_digest(key), user__is_active=True)
            .first()
        )
