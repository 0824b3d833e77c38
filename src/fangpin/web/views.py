"""Role home pages: what this user looks after, in their region."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from fangpin.accounts import permissions
from fangpin.accounts.models import Role
from fangpin.common import clock
from fangpin.regions.models import Level
from fangpin.registry import selectors as registry_selectors
from fangpin.registry.models import HouseholdType

# what each role is here for, shown at the top of its home page
ROLE_INTRO = {
    Role.CITY_ADMIN: _("The whole city: counties side by side, funds, outcomes."),
    Role.COUNTY_OFFICER: _("Your county's registry, imports, decisions and the relief fund."),
    Role.TOWNSHIP_OFFICER: _("Your township's households: warnings to check, cases to review."),
    Role.VILLAGE_CADRE: _("Your village's households: applications, visits and follow-up."),
    Role.INSURER_ADJUSTER: _("Cases waiting for loss determination and payment."),
    Role.AUDITOR: _("Read-only view of records and the audit trail in your region."),
    Role.HELPER_CADRE: _("The households paired with you: visits, problems and help."),
    Role.DEPARTMENT_OFFICER: _("Your department's feeds: what you sent and its data quality."),
}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not permissions.can(user, "registry.view"):  # a department data officer: no household
        return render(
            request,
            "web/home.html",
            {
                "intro": ROLE_INTRO.get(user.role, ""),
                "role_label": user.role_label,
                "registry": False,
                "can_view_feeds": permissions.can(user, "feeds.view"),
            },
        )
    counts = registry_selectors.household_counts_by_type(user=user)
    by_type = [(value, label, counts.get(value, 0)) for value, label in HouseholdType.choices]
    context = {
        "registry": True,
        "intro": ROLE_INTRO.get(user.role, ""),
        "role_label": user.role_label or (_("Superuser") if user.is_superuser else ""),
        "households_total": sum(counts.values()),
        "members_total": registry_selectors.member_count(user=user),
        "by_type": by_type,
        "townships": permissions.regions_visible(user, level=Level.TOWNSHIP).count(),
        "villages": permissions.regions_visible(user, level=Level.VILLAGE).count(),
        "can_import": permissions.can(user, "registry.import"),
        "pairing": _pairing_summary(user),
        "cases_waiting": _cases_waiting(user),
    }
    return render(request, "web/home.html", context)


def _cases_waiting(user):
    """How many relief cases wait for this user's role in their region (fangpin.cases)."""
    from fangpin.cases.selectors import case_queue_count

    return case_queue_count(user) if permissions.can(user, "cases.view") else None


def _pairing_summary(user):
    """A cadre's overdue households first; 返贫/新致贫 and overdue counts (fangpin.pairing)."""

    from fangpin.pairing.home import home_summary

    return home_summary(user=user, today=clock.today())
