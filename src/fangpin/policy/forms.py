"""The calculator form of the policy page (救助测算).

Only the form's shape lives here; the engine's ``inputs.case_from_mapping``
checks the values, so the page, the command and the API refuse the same input
with the same messages.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from fangpin.policy import spec

HOUSEHOLD_TYPE_CHOICES = [(k, spec.HOUSEHOLD_TYPE_LABELS[k]) for k in spec.HOUSEHOLD_TYPES]
CIRCUMSTANCE_CHOICES = [(k, spec.CIRCUMSTANCE_LABELS[k]) for k in spec.CIRCUMSTANCES]
_DECIMAL = {"inputmode": "decimal", "autocomplete": "off"}


class CalculatorForm(forms.Form):
    date = forms.DateField(
        label=_("Date (日期)"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    county = forms.ChoiceField(label=_("County (县区)"))
    household_type = forms.ChoiceField(
        label=_("Household type (户类型)"), choices=HOUSEHOLD_TYPE_CHOICES
    )
    circumstance = forms.ChoiceField(
        label=_("Circumstance (致贫原因)"), choices=CIRCUMSTANCE_CHOICES
    )
    members = forms.IntegerField(
        label=_("Members (家庭人口)"), min_value=1, widget=forms.NumberInput(attrs={"min": 1})
    )
    annual_income = forms.CharField(
        label=_("Household annual income, yuan (家庭年收入)"),
        widget=forms.TextInput(attrs=_DECIMAL),
    )
    self_paid = forms.CharField(
        label=_("Self-paid this year, yuan (年度累计自付)"), widget=forms.TextInput(attrs=_DECIMAL)
    )
    paid_this_year = forms.CharField(
        label=_("Relief already paid this year, yuan (本年已救助)"),
        required=False,
        initial="0",
        widget=forms.TextInput(attrs=_DECIMAL),
    )

    def __init__(self, *args: Any, counties: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["county"].choices = counties

    def case_data(self) -> dict[str, Any]:
        """The cleaned fields in the form ``case_from_mapping`` reads (as the JSON input)."""
        data = self.cleaned_data
        return {
            "date": data["date"].isoformat(),
            "county": data["county"],
            "household_type": data["household_type"],
            "circumstance": data["circumstance"],
            "members": data["members"],
            "annual_income": data["annual_income"].strip(),
            "self_paid": data["self_paid"].strip(),
            "paid_this_year": (data.get("paid_this_year") or "0").strip(),
        }
