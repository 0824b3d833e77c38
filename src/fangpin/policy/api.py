"""Relief API: ``POST /api/v1/relief/calculate`` (mounted by ``fangpin.config.api``).

The same case as ``fangpin relief calc`` takes, the same JSON object back.
Authentication is global (session or bearer token); the county must be one the
caller may see. Bad input answers 422 with ``detail`` entries whose ``loc``
ends with the field's name, in the form django-ninja uses for its own
validation errors.
"""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import ConfigDict, WithJsonSchema

from fangpin.accounts import permissions
from fangpin.common.api import answers
from fangpin.policy import spec
from fangpin.policy.inputs import CaseInputError, case_from_mapping
from fangpin.policy.scalar import relief_calculate
from fangpin.policy.selectors import ERR_COUNTY_NOT_VISIBLE, policy_county_visible

router = Router(tags=["relief"])


def _documented(schema: dict[str, Any]) -> Any:
    """A field the engine's own parser checks (``inputs.case_from_mapping``), so the API,
    the command and the page refuse the same input with the same message; the OpenAPI
    schema still says what is expected."""
    return Annotated[Any, WithJsonSchema(schema)]


AMOUNT = {"type": "string", "pattern": r"^\d+(\.\d{1,2})?$"}


class CaseIn(Schema):
    """One household's claim for one circumstance (救助测算输入)."""

    model_config = ConfigDict(extra="forbid")

    date: _documented(
        {"type": "string", "format": "date", "description": "ISO date the case is decided on"}
    ) = Field(examples=["2019-09-01"])
    county: _documented(
        {"type": "string", "pattern": r"^\d{6}$", "description": "6-digit county code"}
    ) = Field(examples=["130432"])
    household_type: _documented(
        {
            "type": "string",
            "enum": list(spec.HOUSEHOLD_TYPES),
            "description": "脱贫不稳定户 unstable · 边缘易致贫户 marginal · "
            "突发严重困难户 sudden · 一般农户 ordinary",
        }
    ) = Field(examples=["marginal"])
    circumstance: _documented(
        {
            "type": "string",
            "enum": list(spec.CIRCUMSTANCES),
            "description": "因病 medical · 因学 education · 因灾/意外 accident · 产业 industry",
        }
    ) = Field(examples=["education"])
    members: _documented({"type": "integer", "minimum": 1, "description": "household members"}) = (
        Field(examples=[6])
    )
    annual_income: _documented(
        {**AMOUNT, "description": "household annual income, yuan, as a decimal string"}
    ) = Field(examples=["27588.00"])
    self_paid: _documented(
        {
            **AMOUNT,
            "description": "annual cumulative self-paid amount (or loss) in the cap's scope, yuan",
        }
    ) = Field(examples=["16400.00"])
    paid_this_year: _documented(
        {**AMOUNT, "description": "relief already paid in the same scope, yuan (default 0)"}
    ) = Field(default="0", examples=["0"])


class ReliefOut(Schema):
    eligible: bool
    amount: str = Field(description="yuan, two decimal places")
    reasons: list[str] = Field(description="why, in Chinese and English")
    explanation: dict[str, Any] = Field(
        description="parameters read, income test, brackets, cap, netting"
    )


@router.post(
    "/calculate",
    response=answers(ReliefOut),
    summary="Calculate relief for one case (救助测算)",
)
def calculate(request: HttpRequest, payload: CaseIn) -> Status:
    """Eligibility and stepped relief for one case, with the full explanation.

    Same rules and output as `fangpin relief calc --json`.
    """
    reason = permissions.why_not(request.user, "policy.calculate")
    if reason:
        raise HttpError(403, reason)
    try:
        case = case_from_mapping(payload.model_dump())
    except CaseInputError as exc:
        return Status(
            422,
            {
                "detail": [
                    {"type": "value_error", "loc": ["body", "payload", field], "msg": message}
                    for field, message in exc.errors
                ]
            },
        )
    if not policy_county_visible(user=request.user, code=case.county):
        raise HttpError(403, ERR_COUNTY_NOT_VISIBLE.format(code=case.county))
    return Status(200, relief_calculate(case).as_dict())
