"""The refusals of the cases app: ``CaseError`` (a ``DomainError``) and its messages, module
constants the tests assert on, and the sense checks on what a step records."""

from __future__ import annotations

from typing import Any

from fangpin.common.errors import DomainError
from fangpin.common.money import Money, round_fen, to_decimal
from fangpin.policy import spec


class CaseError(DomainError):
    """A case refused: ``message`` names the rule, ``field`` what it concerns."""


class HouseholdNotFound(CaseError):
    """An intake names a household number not registered in the user's region."""


ERR_CHANGED = (
    "someone else changed this case just now; reload it and try again "
    "(案件已被他人修改，请刷新后重试)"
)
ERR_NO_HOUSEHOLD = "no such household in your region (辖区内无此户)"
ERR_CIRCUMSTANCE = "unknown circumstance {value!r} (致困原因无效)"
ERR_SOURCE = "unknown source {value!r} (案件来源无效)"
ERR_PERIOD = "year must be from 2000 to this year (年度无效)"
ERR_AMOUNT = "amount must be a non-negative yuan amount to the fen (金额无效): {value}"
ERR_MEMBERS = "verified members must be at least 1 (核实人口至少为1)"
ERR_EXCLUSION = "unknown exclusion {value!r} (排除项无效)"
ERR_OVERRIDE_REASON = (
    "clearing exclusions found by data comparison needs a reason (推翻比对结果须填写原因)"
)
ERR_OVERRIDE_ROLE = "only a county officer may override data comparison (仅县级可推翻比对结果)"
ERR_REVIEW = "record the review date, attendees and result (请填写评议日期、参会人数和结果)"
ERR_REASON = "give a reason (请填写原因)"
ERR_NOT_ELIGIBLE = "the policy engine finds the case not eligible: {reasons} (经测算不符合救助条件)"
ERR_NOT_EDITABLE = "this case is decided; nothing can be changed (案件已审定，不能修改)"
ERR_NOT_IN_NOTICE = "objections are recorded during the public notice (仅公示期间可登记异议)"
ERR_OBJECTION_DONE = "this objection is already resolved (该异议已处理)"
ERR_FILE_TYPE = "only JPEG, PNG or PDF files are accepted (仅接受JPEG、PNG或PDF文件): {name}"
ERR_FILE_SIZE = "file is larger than {limit} MB (文件过大): {name}"
ERR_FILE_EMPTY = "the file is empty (文件为空): {name}"
ERR_EVIDENCE_KIND = "unknown evidence kind {value!r} (材料类型无效)"
ERR_REJECT_ROLE = "only the officer of the current step may reject here (仅当前环节经办人可驳回)"
ERR_WARNING_NOT_OPEN = "this warning has been dealt with already (该预警已处理)"
ERR_POLICY = "the policy engine cannot evaluate this case: {field}: {message} (无法测算)"
ERR_MEMBER_REQUIRED = "give the ID number of the {who} (请填写{who_zh}的身份证号)"
ERR_MEMBER_NOT_IN_HOUSEHOLD = (
    "{masked} is not a member of household {household_no} (该身份证号不是本户成员)"
)
ERR_EVENT_DATE_REQUIRED = "give the date of the accident or disaster (请填写事故或灾害发生日期)"
ERR_EVENT_DATE = (
    "the date of the event must lie in {first} – {last} and not in the future "
    "(发生日期须在 {first} 至 {last} 之间且不晚于今天)"
)
ERR_REVIEW_DATE = (
    "the review date must lie between the day the case was opened ({opened}) and today "
    "(评议日期须在受理日 {opened} 与今天之间)"
)
ERR_ATTENDEES = "attendees must be a whole number from 1 to {max} (参会人数须为1至{max}的整数)"
ERR_MEMBERS_MAX = "verified members must be from 1 to {max} (核实人口须为1至{max}人)"
ERR_AMOUNT_MAX = (
    "{field_zh} {value} is above the largest amount a case may carry, {max} yuan "
    "({field_zh}超过上限)"
)

# sense checks on what a step records (not policy: a bound no real household reaches)
MAX_ATTENDEES = 1000
MAX_MEMBERS = 50
MAX_CASE_AMOUNT = Money("10000000.00")  # ten million yuan: income, self-paid or loss
AMOUNT_FIELDS_ZH = {
    "verified_income": "核实年收入",
    "verified_self_paid": "核实自付金额",
    "adjusted_self_paid": "核损自付金额",
    "amount_claimed": "申报金额",
}
# who a cap scope's claim is about (spec.CAP_SCOPES), in the intake's messages
SCOPE_MEMBER = {
    "student_year": ("student", "学生"),
    "event": ("injured or affected person", "受灾或受伤人员"),
}


def money_input(value: Any, field: str) -> Money:
    """An amount a user entered: yuan to the fen, not negative, within ``MAX_CASE_AMOUNT``."""
    try:
        amount = to_decimal(value)
    except (TypeError, ValueError):
        raise CaseError(ERR_AMOUNT.format(value=value), field=field) from None
    # the bound first: rounding 1e30 to the fen overflows Decimal's precision
    if amount < 0 or amount > spec.MAX_AMOUNT or amount != round_fen(amount):
        raise CaseError(ERR_AMOUNT.format(value=value), field=field)
    if amount > MAX_CASE_AMOUNT.amount:
        raise CaseError(
            ERR_AMOUNT_MAX.format(
                field_zh=AMOUNT_FIELDS_ZH.get(field, field), value=value, max=MAX_CASE_AMOUNT
            ),
            field=field,
        )
    return Money(amount)
