"""Forms of the pairing pages. The services check everything again (dates, wages as exact
decimals, never a float); the forms only shape the input for a phone's screen."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from fangpin.common import clock

from .models import ProblemCategory, VisitMode


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class VisitForm(forms.Form):
    visited_on = forms.DateField(label=_("Date of the visit (走访日期)"), widget=_date_widget())
    mode = forms.ChoiceField(
        label=_("How (方式)"), choices=VisitMode.choices, widget=forms.RadioSelect
    )
    met = forms.CharField(label=_("Who was met (见到的人)"), max_length=64)
    findings = forms.CharField(
        label=_("Findings (了解情况)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    help_given = forms.CharField(
        label=_("Help given (帮扶措施)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    cadre = forms.ChoiceField(label=_("Cadre who visited (走访干部)"), required=False)

    def __init__(self, *args, cadre_choices=None, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("visited_on", clock.today())
        kwargs["initial"].setdefault("mode", VisitMode.IN_PERSON)
        super().__init__(*args, **kwargs)
        if cadre_choices:
            self.fields["cadre"].choices = cadre_choices
            self.fields["cadre"].required = True
        else:
            del self.fields["cadre"]


class ProblemForm(forms.Form):
    category = forms.ChoiceField(
        label=_("Problem found (发现问题)"),
        required=False,
        choices=[("", "—")] + list(ProblemCategory.choices),
    )
    description = forms.CharField(
        label=_("What is the problem (问题描述)"), required=False, max_length=255
    )

    def clean(self):
        data = super().clean()
        if bool(data.get("category")) != bool(data.get("description")):
            raise forms.ValidationError(
                _("Give both the category and the problem (类别和问题描述须同时填写)")
            )
        return data


class PlacementForm(forms.Form):
    member = forms.ChoiceField(label=_("Person placed in a job (就业人员)"), required=False)
    employer = forms.CharField(
        label=_("Employer (用工单位)"),
        required=False,
        max_length=128,
        widget=forms.TextInput(
            attrs={"placeholder": _("e.g. the village micro-factory 扶贫微工厂")}
        ),
    )
    job = forms.CharField(label=_("Job (岗位)"), required=False, max_length=64)
    daily_wage = forms.CharField(
        label=_("Daily wage, yuan (日工资)"),
        required=False,
        max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "75"}),
    )
    started_on = forms.DateField(
        label=_("Started on (上岗日期)"), required=False, widget=_date_widget()
    )

    def __init__(self, *args, member_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].choices = [("", "—"), *member_choices]

    def clean(self):
        data = super().clean()
        filled = [data.get(f) for f in ("member", "employer", "job", "daily_wage")]
        if any(filled) and not all(filled):
            raise forms.ValidationError(
                _(
                    "Give the person, the employer, the job and the daily wage "
                    "(就业人员、用工单位、岗位、日工资须同时填写)"
                )
            )
        return data


ProblemFormSet = forms.formset_factory(ProblemForm, extra=2, max_num=10)
PlacementFormSet = forms.formset_factory(PlacementForm, extra=1, max_num=5)


class SolveForm(forms.Form):
    solution = forms.CharField(label=_("How it was solved (解决办法)"), max_length=255)
    solved_on = forms.DateField(label=_("Solved on (解决日期)"), widget=_date_widget())

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("solved_on", clock.today())
        super().__init__(*args, **kwargs)


class RiskCloseForm(forms.Form):
    closed_on = forms.DateField(label=_("Closed on (消除日期)"), widget=_date_widget())
    reason = forms.CharField(
        label=_("Reason (理由)"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("closed_on", clock.today())
        super().__init__(*args, **kwargs)


class AssignForm(forms.Form):
    cadre = forms.ChoiceField(label=_("Cadre (帮扶干部)"))
    start_date = forms.DateField(label=_("From (开始日期)"), widget=_date_widget())
    reason = forms.CharField(label=_("Reason (原因)"), required=False, max_length=255)

    def __init__(self, *args, cadre_choices=(), **kwargs):
        kwargs.setdefault("initial", {}).setdefault("start_date", clock.today())
        super().__init__(*args, **kwargs)
        self.fields["cadre"].choices = list(cadre_choices)
