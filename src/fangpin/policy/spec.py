"""The vocabulary of the policy: household types, circumstances, bases, scopes.

Everything the engine knows about the *shape* of the rules lives here; every
*number* lives in the dated parameter files under ``parameters/`` (POLICY.md,
"Every number here is a parameter"). The scalar evaluator (``scalar.py``) and
the batch builder (``batch.py``) both read these names, so the two paths cannot
disagree about what a parameter is called or where money is rounded.

No Django imports here, nor in any engine module (ARCHITECTURE.md: ``policy``
is "rules as code, no ORM imports").
"""

from __future__ import annotations

from decimal import Decimal

# Who is protected (POLICY.md, "Who is protected").
HOUSEHOLD_TYPES: tuple[str, ...] = ("unstable", "marginal", "sudden", "ordinary")
HOUSEHOLD_TYPE_LABELS: dict[str, str] = {
    "unstable": "脱贫不稳定户 (unstable, lifted out of poverty)",
    "marginal": "边缘易致贫户 (marginal, close to the line)",
    "sudden": "突发严重困难户 (sudden severe hardship)",
    "ordinary": "一般农户 (ordinary rural household)",
}

# The four circumstances (POLICY.md, "The four circumstances and their stepped relief").
CIRCUMSTANCES: tuple[str, ...] = ("medical", "education", "accident", "industry")
CIRCUMSTANCE_LABELS: dict[str, str] = {
    "medical": "因病 (medical)",
    "education": "因学 (education)",
    "accident": "因灾/意外 (accident or disaster)",
    "industry": "产业 (farming business loss)",
}

# Income basis (POLICY.md, "Income test"): per-capita income as stated, or
# after the self-paid rigid expense of the circumstance (national monitoring practice).
BASIS_AFTER_RIGID_EXPENSE = "per_capita_income_after_rigid_expense"
BASIS_PER_CAPITA = "per_capita_income"
INCOME_BASES: tuple[str, ...] = (BASIS_AFTER_RIGID_EXPENSE, BASIS_PER_CAPITA)

# What a cap is counted over. The engine's arithmetic is the same for all three;
# the scope tells the caller which self-paid total and which relief already paid
# belong to one calculation (the household's year, the student's year, one event).
CAP_SCOPES: tuple[str, ...] = ("household_year", "student_year", "event")
CAP_SCOPE_LABELS: dict[str, str] = {
    "household_year": "每户每年 (per household per year)",
    "student_year": "每生每年 (per student per year)",
    "event": "每次事故 (per event)",
}

# Exclusions checked by data comparison (信息比对, POLICY.md).
EXCLUSIONS: tuple[str, ...] = ("public_payroll", "commercial_housing", "vehicle", "business")
EXCLUSION_LABELS: dict[str, str] = {
    "public_payroll": "财政供养人员 (a member is on the public payroll)",
    "commercial_housing": "城镇商品房 (owns commercial housing in a town)",
    "vehicle": "非营运车辆 (owns a non-working vehicle)",
    "business": "注册企业 (runs a registered business above the capital threshold)",
}

# Source marks (POLICY.md, first paragraph).
SOURCE_MARKS: tuple[str, ...] = ("stated", "inferred", "assumed")
SOURCE_MARK_LABELS: dict[str, str] = {
    "stated": "S 明文 (stated)",
    "inferred": "I 推断 (inferred)",
    "assumed": "A 假设 (assumed)",
}

# Parameter kinds a leaf may have.
KIND_AMOUNT = "amount"  # yuan, to the fen, never negative
KIND_RATE = "rate"  # 0 <= rate <= 1, at most RATE_PLACES decimal places
KIND_LADDER = "ladder"  # list of {threshold, rate}
KIND_CHOICE = "choice"  # one of the leaf's ``choices``
KIND_FLAG = "flag"  # true / false
KIND_COUNT = "count"  # a whole number, not money: days, visits, months, years of age
KINDS: tuple[str, ...] = (
    KIND_AMOUNT,
    KIND_RATE,
    KIND_LADDER,
    KIND_CHOICE,
    KIND_FLAG,
    KIND_COUNT,
)

RATE_PLACES = 4  # rates have at most four decimal places (e.g. 0.5, 0.625, 0.0125)
MAX_COUNT = 100_000  # a count is a whole number 0 <= n <= MAX_COUNT (273 years in days)

# Parameter paths the engine reads. The loader refuses a city tree without them.
LINE = "income_test.line"
BASIS = "income_test.basis"


def start_line_path(circumstance: str) -> str:
    return f"relief.{circumstance}.start_line"


def brackets_path(circumstance: str) -> str:
    return f"relief.{circumstance}.brackets"


def cap_path(circumstance: str) -> str:
    return f"relief.{circumstance}.cap"


def cap_scope_path(circumstance: str) -> str:
    return f"relief.{circumstance}.cap_scope"


def exclusion_path(exclusion: str) -> str:
    return f"exclusions.{exclusion}.applies"


def _required_leaves() -> dict[str, tuple[str, str | None, tuple[str, ...] | None]]:
    """path -> (kind, keyed_by, choices): what the engine needs to find in the tree."""
    required: dict[str, tuple[str, str | None, tuple[str, ...] | None]] = {
        LINE: (KIND_AMOUNT, None, None),
        BASIS: (KIND_CHOICE, None, INCOME_BASES),
    }
    for circumstance in CIRCUMSTANCES:
        required[start_line_path(circumstance)] = (KIND_AMOUNT, "household_type", None)
        required[brackets_path(circumstance)] = (KIND_LADDER, None, None)
        required[cap_path(circumstance)] = (KIND_AMOUNT, None, None)
        required[cap_scope_path(circumstance)] = (KIND_CHOICE, None, CAP_SCOPES)
    for exclusion in EXCLUSIONS:
        required[exclusion_path(exclusion)] = (KIND_FLAG, None, None)
    return required


REQUIRED_LEAVES = _required_leaves()

# Parameters the rest of the application reads: the procedure of a case, pairing
# assistance and risk elimination (POLICY.md, "How cases arise and are decided",
# "Pairing assistance"). The loader refuses a city tree without them, and a value
# outside the whole numbers each may take; unlike ``REQUIRED_LEAVES`` they do not
# decide the day the relief policy begins. Read them with
# ``loader.parameter_value(path, on=..., county=...)``.
PUBLIC_NOTICE_WORKING_DAYS = "procedure.public_notice_working_days"  # 公示 5 working days
# a screening warning's clocks (预警受理, 核查): until someone checks it, and until it is decided
WARNING_ACCEPTANCE_WORKING_DAYS = "procedure.warning_acceptance_working_days"  # 2
WARNING_CHECK_WORKING_DAYS = "procedure.warning_check_working_days"  # 5
VISIT_PERIOD_MONTHS = "pairing.visit_period_months"  # visits at least once a quarter: 3
STABLE_DAYS = "risk.stable_days"  # income stably above the line for six months: 183 days
WORKING_AGE_MINIMUM = "risk.working_age.minimum"  # able to work when no labour recorded: 16
WORKING_AGE_MAXIMUM = "risk.working_age.maximum"  # … to 64

# path -> the whole numbers the path may take (a range, or the values allowed).
COUNT_VALUES: dict[str, range | tuple[int, ...]] = {
    PUBLIC_NOTICE_WORKING_DAYS: range(1, 61),
    WARNING_ACCEPTANCE_WORKING_DAYS: range(1, 61),
    WARNING_CHECK_WORKING_DAYS: range(1, 61),
    # a calendar period that divides the year, so periods begin on 1 January
    VISIT_PERIOD_MONTHS: (1, 2, 3, 4, 6, 12),
    STABLE_DAYS: range(1, 3661),
    WORKING_AGE_MINIMUM: range(0, 121),
    WORKING_AGE_MAXIMUM: range(0, 121),
}
APPLICATION_LEAVES: dict[str, tuple[str, str | None, tuple[str, ...] | None]] = {
    path: (KIND_COUNT, None, None) for path in COUNT_VALUES
}
# (lower, upper): in force together, lower <= upper on every day, in every county.
ORDERED_PAIRS: tuple[tuple[str, str], ...] = ((WORKING_AGE_MINIMUM, WORKING_AGE_MAXIMUM),)

# Named rounding points (ARCHITECTURE.md: "ROUND_HALF_UP to the fen at named
# points, the same in the batch evaluator"). Nothing else is ever rounded.
ROUNDING_POINTS: tuple[str, ...] = ("per_capita_income", "bracket_earned", "total")

# Largest money amount an input may carry (10 billion yuan). Keeps every
# intermediate of the batch path inside DECIMAL(18, x) / BIGINT without overflow.
MAX_AMOUNT = Decimal("10000000000")
