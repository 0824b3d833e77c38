"""Template context: the navigation a user may see, by role."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from fangpin.accounts import permissions

# (url name, label, action the user needs)
NAV = [
    ("home", _("Home"), None),
    ("registry:household_list", _("Households"), "registry.view"),
    ("registry:import", _("Import"), "registry.import"),
    ("policy:index", _("Policy"), "policy.view"),
    ("funds:index", _("Funds"), "funds.view"),
    ("pairing:index", _("Pairing"), "pairing.view"),
    ("screening:index", _("Warnings"), "screening.view"),
    ("feeds:index", _("Data quality"), "feeds.view"),
    ("cases:queue", _("Cases"), "cases.view"),
    ("reports:hit_rates", _("Hit rates"), "reports.hit_rates"),
]


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = []
    for name, label, action in NAV:
        if action and not permissions.can(user, action):
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        items.append(
            {
                "url": url,
                "label": label,
                "active": request.path == url or (url != "/" and request.path.startswith(url)),
            }
        )
    return {"nav_items": items}
