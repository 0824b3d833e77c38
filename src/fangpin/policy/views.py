"""The policy page (政策参数与救助测算): parameters in force and a calculator.

``index`` shows, for a county the user may see and a chosen date, every
parameter in force with its source mark (S/I/A) and its dated history, and a
calculator form. ``calculate`` answers the form with the explanation as a
readable breakdown (an htmx partial, or the whole page without JavaScript).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from fangpin.accounts import permissions
from fangpin.common import clock
from fangpin.policy import spec
from fangpin.policy.explain import ReliefResult
from fangpin.policy.forms import CalculatorForm
from fangpin.policy.inputs import CaseInputError, case_from_mapping
from fangpin.policy.loader import (
    Bracket,
    DatedValue,
    ParameterSet,
    PolicyInputError,
    Reading,
    parameters_default,
)
from fangpin.policy.scalar import relief_calculate
from fangpin.policy.selectors import ERR_COUNTY_NOT_VISIBLE, policy_counties

GROUP_TITLES = {
    "income_test": gettext_lazy("Income test (收入测试)"),
    "relief.medical": gettext_lazy("Medical relief (因病)"),
    "relief.education": gettext_lazy("Education relief (因学)"),
    "relief.accident": gettext_lazy("Accident and disaster relief (因灾/意外)"),
    "relief.industry": gettext_lazy("Industry relief (产业)"),
    "exclusions": gettext_lazy("Exclusions (信息比对排除)"),
    "insurance": gettext_lazy("Anti-poverty insurance (防贫保险)"),
    "procedure": gettext_lazy("Procedure (办理程序)"),
    "pairing": gettext_lazy("Pairing assistance (结对帮扶)"),
    "risk": gettext_lazy("Risk elimination (风险消除)"),
}
SOURCE_SHORT = {"stated": "S", "inferred": "I", "assumed": "A"}


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def value_lines(kind: str, value: Any) -> list[str]:
    """A parameter value as short lines a person reads (amounts with separators, rates in %,
    counts as whole numbers; the unit is shown beside them)."""
    if kind == spec.KIND_LADDER:
        ladder: tuple[Bracket, ...] = value
        lines = []
        for index, step in enumerate(ladder):
            if index + 1 < len(ladder):
                span = f"{_money(step.threshold)} – {_money(ladder[index + 1].threshold)}"
            else:
                span = f"> {_money(step.threshold)}"
            lines.append(f"{span}: {_percent(step.rate)}")
        return lines
    if isinstance(value, dict):
        return [
            f"{spec.HOUSEHOLD_TYPE_LABELS[key]}: {value_lines(kind, item)[0]}"
            for key, item in value.items()
        ]
    if kind == spec.KIND_AMOUNT:
        return [_money(value)]
    if kind == spec.KIND_COUNT:
        return [f"{value:,}"]
    if kind == spec.KIND_RATE:
        return [_percent(value)]
    if kind == spec.KIND_FLAG:
        return [_("yes (是)") if value else _("no (否)")]
    labels = {**spec.CAP_SCOPE_LABELS}
    return [labels.get(value, value)]


def _group_key(path: str) -> str:
    parts = path.split(".")
    return ".".join(parts[:2]) if parts[0] == "relief" else parts[0]


def parameter_groups(
    parameters: ParameterSet, readings: dict[str, Reading], county: str, on: datetime.date
) -> list[dict[str, Any]]:
    """The parameters in force, grouped for the page, each with its history."""
    groups: dict[str, dict[str, Any]] = {}
    key = parameters.county_key(county)
    for path, leaf in parameters.leaves.items():
        reading = readings.get(path)
        in_force = parameters.resolve(path, key, on)
        history = [
            _history_row(leaf.kind, entry, in_force) for entry in parameters.history(path, county)
        ]
        group = groups.setdefault(
            _group_key(path),
            {
                "key": _group_key(path),
                "title": GROUP_TITLES.get(_group_key(path), path),
                "items": [],
            },
        )
        group["items"].append(
            {
                "path": path,
                "name": path.removeprefix(_group_key(path) + "."),
                "title": leaf.description.split(" — ")[0],
                "description": leaf.description,
                "unit": leaf.unit,
                "in_force": reading is not None,
                "lines": value_lines(leaf.kind, reading.value) if reading else [],
                "effective": reading.effective if reading else None,
                "source": reading.source if reading else leaf.source,
                "source_short": SOURCE_SHORT[reading.source if reading else leaf.source],
                "source_label": spec.SOURCE_MARK_LABELS[reading.source if reading else leaf.source],
                "origin": reading.origin if reading else "city",
                "reference": reading.reference if reading else leaf.reference,
                "history": history,
            }
        )
    order = list(GROUP_TITLES)
    return sorted(groups.values(), key=lambda g: order.index(g["key"]) if g["key"] in order else 99)


def _history_row(kind: str, entry: DatedValue, in_force: DatedValue | None) -> dict[str, Any]:
    return {
        "effective": entry.effective,
        "lines": [_("inherits the city's value (沿用市级)")]
        if entry.inherit
        else value_lines(kind, entry.value),
        "source": entry.source,
        "source_short": SOURCE_SHORT[entry.source],
        "source_label": spec.SOURCE_MARK_LABELS[entry.source],
        "origin": entry.origin,
        "note": entry.note,
        "inherit": entry.inherit,
        # each dated value is cited with its own source (loader: the metadata marks the first)
        "reference": "" if entry.inherit else entry.reference,
        "current": entry is in_force or entry == in_force,
    }


def _county_choices(user: Any) -> list[tuple[str, str]]:
    return [(c.code, f"{c.name} {c.code}") for c in policy_counties(user=user)]


def _parse_date(text: str | None) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _page_context(
    *, county: str, on: datetime.date, counties: list[tuple[str, str]]
) -> dict[str, Any]:
    parameters = parameters_default()
    context: dict[str, Any] = {
        "counties": counties,
        "county": county,
        "county_name": dict(counties).get(county, county),
        "on": on,
        "groups": [],
        "error": None,
        "policy_start": parameters.policy_start(county),
    }
    try:
        force = parameters.in_force(county, on)
    except PolicyInputError as exc:
        context["error"] = exc.message
        return context
    context["groups"] = parameter_groups(parameters, dict(force.readings), county, on)
    context["version"] = force.version
    context["valid_from"] = force.valid_from
    context["valid_to"] = force.valid_to
    return context


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    permissions.require(request.user, "policy.view")
    counties = _county_choices(request.user)
    if not counties:
        raise PermissionDenied(permissions.ERR_NO_SCOPE)
    county = request.GET.get("county") or counties[0][0]
    if county not in dict(counties):
        raise PermissionDenied(ERR_COUNTY_NOT_VISIBLE.format(code=county))
    on = _parse_date(request.GET.get("date")) or clock.today()
    context = _page_context(county=county, on=on, counties=counties)
    context["form"] = CalculatorForm(
        counties=counties,
        initial={"county": county, "date": on, "members": 1, "paid_this_year": "0"},
    )
    context["result"] = None
    return render(request, "policy/index.html", context)


@login_required
@require_POST
def calculate(request: HttpRequest) -> HttpResponse:
    permissions.require(request.user, "policy.calculate")
    counties = _county_choices(request.user)
    form = CalculatorForm(request.POST, counties=counties)
    result: ReliefResult | None = None
    if form.is_valid():
        try:
            case = case_from_mapping(form.case_data())
            result = relief_calculate(case)
        except CaseInputError as exc:
            for field, message in exc.errors:
                form.add_error(field if field in form.fields else None, message)
    context: dict[str, Any] = {"form": form, "result": result}
    if result is not None:
        context.update(_result_context(result))
    if request.headers.get("HX-Request"):
        return render(request, "policy/_calculator.html", context)
    county = form.cleaned_data.get("county") if form.is_valid() else None
    county = county or (counties[0][0] if counties else "")
    if not county:
        raise PermissionDenied(permissions.ERR_NO_SCOPE)
    on = form.cleaned_data.get("date") or clock.today()
    context.update(_page_context(county=county, on=on, counties=counties))
    return render(request, "policy/index.html", context)


def _result_context(result: ReliefResult) -> dict[str, Any]:
    explanation = result.explanation
    reads = [
        {
            "path": read.path,
            "key": read.key,
            "lines": value_lines(read.kind, read.value),
            "effective": read.effective,
            "source": read.source,
            "source_short": SOURCE_SHORT[read.source],
            "source_label": spec.SOURCE_MARK_LABELS[read.source],
            "origin": read.origin,
        }
        for read in explanation.parameters
    ]
    return {
        "explanation": explanation,
        "reasons": result.reasons,
        "reads": reads,
        "basis_after_rigid": explanation.income_test.basis == spec.BASIS_AFTER_RIGID_EXPENSE,
        "scope_label": spec.CAP_SCOPE_LABELS.get(explanation.cap.scope, "")
        if explanation.cap
        else "",
        "brackets": [
            {
                "index": b.index,
                "lower": b.lower,
                "upper": b.upper,
                "percent": _percent(b.rate),
                "part": b.part,
                "earned": b.earned,
                "reached": b.part > 0,
            }
            for b in explanation.brackets
        ],
    }
