"""The states of a relief case (the step it waits for) and the sets the rules name."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class State(models.TextChoices):
    HOUSEHOLD_CHECK = "household_check", _("Household check 入户核查")
    DATA_COMPARISON = "data_comparison", _("Data comparison 信息比对")
    VILLAGE_REVIEW = "village_review", _("Village review 民主评议")
    PUBLIC_NOTICE = "public_notice", _("Public notice 公示")
    TOWNSHIP_REVIEW = "township_review", _("Township review 乡镇审核")
    COUNTY_DECISION = "county_decision", _("County decision 县级审定")
    LOSS_DETERMINATION = "loss_determination", _("Loss determination 保险核损")
    PAYMENT_REQUESTED = "payment_requested", _("Payment requested 待支付")
    PAID = "paid", _("Paid 已支付")
    FOLLOW_UP = "follow_up", _("Follow-up 帮扶跟进")
    CLOSED = "closed", _("Closed, nothing to pay")
    REJECTED = "rejected", _("Rejected 不予救助")


INITIAL = State.HOUSEHOLD_CHECK
# before the county decision: evidence may be added, figures edited
EDITABLE_STATES = frozenset(
    {
        State.HOUSEHOLD_CHECK,
        State.DATA_COMPARISON,
        State.VILLAGE_REVIEW,
        State.PUBLIC_NOTICE,
        State.TOWNSHIP_REVIEW,
        State.COUNTY_DECISION,
    }
)
# a case in these states is "open": a new intake for the same household,
# circumstance and period joins it instead of opening another
OPEN_STATES = EDITABLE_STATES | {State.LOSS_DETERMINATION, State.PAYMENT_REQUESTED}
REJECTABLE_STATES = EDITABLE_STATES | {State.LOSS_DETERMINATION}
