"""Registry API: households in the caller's region, masked in lists."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from ninja.errors import HttpError

from fangpin.accounts import permissions
from fangpin.common.api import NOT_FOUND, answers
from fangpin.common.audit import Action, audit_record
from fangpin.common.idnumber import mask_id_number
from fangpin.common.pages import paginated
from fangpin.registry.services import household_search_audit

from . import selectors
from .models import Household, HouseholdType

router = Router(tags=["registry"])


class HouseholdRow(Schema):
    household_no: str
    village_code: str
    village_name: str
    household_type: str
    head_name: str | None
    head_id_number_masked: str | None
    member_count: int

    # resolved row by row for the page only: the list returns its queryset to the paginator
    @staticmethod
    def resolve_village_code(obj: Household) -> str:
        return obj.village.code

    @staticmethod
    def resolve_village_name(obj: Household) -> str:
        return obj.village.name

    @staticmethod
    def resolve_head_id_number_masked(obj: Household) -> str | None:
        return mask_id_number(obj.head_id_number) if obj.head_id_number else None


class MemberOut(Schema):
    name: str
    id_number: str
    relation: str


class IncomeOut(Schema):
    year: int
    annual_income: str
    source: str
    recorded_at: str


class HouseholdOut(Schema):
    household_no: str
    village_code: str
    village_name: str
    household_type: str
    bank_name: str
    bank_account: str
    members: list[MemberOut]
    incomes: list[IncomeOut]


@router.get("/households", response=answers(list[HouseholdRow]))
@paginated(page_size=50)
def list_households(request, q: str = "", region: str = "", household_type: str = ""):
    """Households in your region (ID numbers masked). 农户列表"""
    permissions.require(request.user, "registry.view")
    if household_type and household_type not in HouseholdType.values:
        raise HttpError(422, f"household_type must be one of {HouseholdType.values}")
    household_search_audit(user=request.user, q=q, via="api")
    return selectors.household_list(
        user=request.user, q=q, region_code=region, household_type=household_type
    )


@router.get("/households/{household_no}", response=answers(HouseholdOut, NOT_FOUND))
def get_household(request, household_no: str, reveal: bool = False):
    """One household in full (members, income history); the look is audited. Members' ID
    numbers are masked unless ``reveal=true``, a deliberate action recorded in the audit
    trail as such (显示完整身份证号). 农户详情"""
    permissions.require(request.user, "registry.view_detail")
    h: Household = get_object_or_404(
        selectors.household_scope(user=request.user).select_related("village"),
        household_no=household_no,
    )
    audit_record(
        actor=request.user,
        action=Action.HOUSEHOLD_ID_NUMBERS_REVEALED if reveal else Action.HOUSEHOLD_VIEWED,
        obj=h,
        region_path=h.region_path,
        data={"via": "api"},
    )
    return HouseholdOut(
        household_no=h.household_no,
        village_code=h.village.code,
        village_name=h.village.name,
        household_type=h.household_type,
        bank_name=h.bank_name,
        bank_account=h.bank_account,
        members=[
            MemberOut(
                name=m.name,
                id_number=m.id_number if reveal else mask_id_number(m.id_number),
                relation=m.relation,
            )
            for m in h.members.all()
        ],
        incomes=[
            IncomeOut(
                year=r.year,
                annual_income=str(r.annual_income),
                source=r.source,
                recorded_at=r.recorded_at.isoformat(),
            )
            for r in selectors.household_incomes(household=h)
        ],
    )
