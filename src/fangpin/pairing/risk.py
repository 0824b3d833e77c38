"""Risk elimination (风险消除, POLICY.md step 7): the four checks that must pass on the day a
county officer closes a household's monitoring.

``risk_checks`` gives each check with its detail, as the page shows it and as the
closure (``services.risk_close``) keeps it. The rules as implemented (docs/PAIRING.md,
"Risk elimination", states them for users): income above the line on record for
``risk.stable_days`` days; no open problem; a help measure recorded; someone able to
work (the labour rule: ``_works``, with ``risk.working_age.*``). The numbers are policy
parameters in force on the closure date for the household's county (``rules.py``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from fangpin.common.idnumber import birth_date
from fangpin.common.money import Money
from fangpin.policy.loader import PolicyInputError
from fangpin.regions.selectors import county_code_of
from fangpin.registry.models import Household, Labour, Member

from .models import ProblemCategory
from .rules import IncomeLines, RiskRules, per_capita, risk_rules

CHECK_INCOME = "Income above the line for {days} days on record (收入稳定超过收入线{days}天)"
CHECK_INCOME_NO_RULE = "Income stably above the line on record (收入稳定超过收入线)"
CHECK_EXPENSE = "Rigid expense resolved: no open problem (刚性支出已解决，无未解决问题)"
CHECK_HELP = "At least one help measure recorded (至少一项帮扶措施)"
CHECK_LABOUR = "Someone in the household can work (家中有劳动能力成员)"

WHY_NO_MEMBERS = "the household has no members on record (无家庭成员)"
WHY_NO_INCOME = (
    "no income on record on {date}, the start of the stable period before {on} "
    "(稳定期起点无收入记录)"
)
WHY_NO_LINE = "no income line for {year} (无该年度收入线)"
WHY_NO_RULE = "no risk-elimination parameters in force on {on} (该日无风险消除政策参数)"
WHY_BELOW_THEN = (
    "on {date} the {year} income on record was {per_capita} yuan per person, not above the "
    "line of {line} (稳定期起点收入未超过收入线)"
)
WHY_BELOW_SINCE = (
    "the {year} income recorded on {date} is {per_capita} yuan per person, not above the line "
    "of {line} (稳定期内记录的收入未超过收入线)"
)
OK_INCOME = (
    "{year} income {per_capita} yuan per person, above the line of {line}, on record since "
    "{since} at the latest (收入稳定超过收入线)"
)
WHY_OPEN_PROBLEMS = "{n} open problem(s): {categories} (尚有未解决问题)"
OK_NO_OPEN = "no open problem ({n} solved) (问题均已解决)"
WHY_NO_HELP = (
    "no visit with help given, no employment placement and no solved problem (无帮扶措施记录)"
)
OK_HELP = (
    "{visits} visit(s) with help given, {placements} placement(s), {solved} solved problem(s) "
    "(已有帮扶措施)"
)
WHY_NO_LABOUR = (
    "no one in the household is able to work; such a household is not closed this way "
    "(无劳动能力家庭不能以此方式消除风险)"
)
OK_LABOUR = "{n} member(s) able to work (有劳动能力成员)"


@dataclass(frozen=True)
class RiskCheck:
    code: str
    label: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class RiskChecks:
    household_no: str
    on: dt.date
    checks: list[RiskCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.passed for c in self.checks)


def _above(income: Money, members: int, line: Decimal) -> bool:
    """Per-capita income strictly above the line, compared exactly (no division)."""
    return income.amount > line * members


def _income_check(household: Household, on: dt.date, members: int, stable_days: int) -> RiskCheck:
    """Income stably above the line for ``stable_days`` days, from annual records.

    Income records are annual figures, each recorded at a moment. The figure *on
    record* at a moment is the latest-recorded record of the latest year recorded
    by then. The check passes when (a) the figure on record ``stable_days`` days
    before ``on`` (183, six months, in the reference parameters) puts per-capita
    income above the line of its year, and (b) every income record recorded since
    then, up to ``on``, does too — so for the whole period the record has shown the
    household above the line and nothing has shown it below.
    """
    label = CHECK_INCOME.format(days=stable_days)
    if members == 0:
        return RiskCheck("income", label, False, WHY_NO_MEMBERS)
    anchor = on - dt.timedelta(days=stable_days)
    lines = IncomeLines()
    county = county_code_of(household.village.path)
    records = sorted(
        (
            (timezone.localtime(r.recorded_at).date(), r.recorded_at, r.pk, r.year, r.annual_income)
            for r in household.incomes.all()
        ),
        key=lambda t: (t[1], t[2]),
    )
    records = [r for r in records if r[0] <= on]
    before = [r for r in records if r[0] <= anchor]
    if not before:
        return RiskCheck(
            "income",
            label,
            False,
            WHY_NO_INCOME.format(date=anchor.isoformat(), on=on.isoformat()),
        )
    # on record at the anchor: the latest year, its latest-recorded figure
    then = max(before, key=lambda r: (r[3], r[1], r[2]))
    for recorded_on, _, _, year, income in [then, *[r for r in records if r[0] > anchor]]:
        line = lines.line(county, year)
        if line is None:
            return RiskCheck("income", label, False, WHY_NO_LINE.format(year=year))
        if not _above(income, members, line):
            template = WHY_BELOW_THEN if recorded_on <= anchor else WHY_BELOW_SINCE
            return RiskCheck(
                "income",
                label,
                False,
                template.format(
                    date=(anchor if recorded_on <= anchor else recorded_on).isoformat(),
                    year=year,
                    per_capita=per_capita(income, members),
                    line=Money(line),
                ),
            )
    now = max(records, key=lambda r: (r[3], r[1], r[2]))
    return RiskCheck(
        "income",
        label,
        True,
        OK_INCOME.format(
            year=now[3],
            per_capita=per_capita(now[4], members),
            line=Money(lines.line(county, now[3]) or 0),
            since=anchor.isoformat(),
        ),
    )


def _works(member: Member, on: dt.date, working_age: tuple[int, int]) -> bool:
    """Able to work: labour recorded able or weak; when not recorded, aged within
    ``working_age`` (inclusive; 16–64 in the reference parameters) on ``on``."""
    if member.labour:
        return member.labour in (Labour.ABLE, Labour.WEAK)
    try:
        born = birth_date(member.id_number)
    except ValueError:
        return False
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return working_age[0] <= age <= working_age[1]


def risk_checks(*, household: Household, on: dt.date) -> RiskChecks:
    """The conditions of risk elimination (风险消除, POLICY.md step 7) on the day ``on``.

    1. income above the line on record for ``risk.stable_days`` days — six months,
       183 days, in the reference parameters (``_income_check``);
    2. the rigid expense resolved: no problem found on or before ``on`` is still
       open on ``on`` — any category, because the problem that is the household's
       rigid expense may be filed as medical, schooling, housing or "other";
    3. at least one help measure: a visit with help given, an employment
       placement, or a solved problem, on or before ``on``;
    4. someone can work (``_works``; ``risk.working_age.*`` for a member with no
       labour recorded): a household with no one able to work is supported by
       social assistance (兜底保障), not closed this way.

    The parameters are those in force on ``on`` for the household's county; on a
    day before they have a value, the income and labour checks fail (``WHY_NO_RULE``).
    """
    members = list(household.members.all())
    try:
        rules: RiskRules | None = risk_rules(
            on=on, county_code=county_code_of(household.village.path)
        )
    except PolicyInputError:
        rules = None
    no_rule = WHY_NO_RULE.format(on=on.isoformat())
    if rules is None:
        checks = [RiskCheck("income", CHECK_INCOME_NO_RULE, False, no_rule)]
    else:
        checks = [_income_check(household, on, len(members), rules.stable_days)]

    problems = list(household.problems.filter(found_on__lte=on))
    still_open = [p for p in problems if p.solved_on is None or p.solved_on > on]
    if still_open:
        labels = dict(ProblemCategory.choices)
        categories = ", ".join(sorted({str(labels[p.category]) for p in still_open}))
        checks.append(
            RiskCheck(
                "expense",
                CHECK_EXPENSE,
                False,
                WHY_OPEN_PROBLEMS.format(n=len(still_open), categories=categories),
            )
        )
    else:
        checks.append(RiskCheck("expense", CHECK_EXPENSE, True, OK_NO_OPEN.format(n=len(problems))))

    helped = household.visits.filter(visited_on__lte=on).exclude(help_given="").count()
    placed = household.placements.filter(started_on__lte=on).count()
    solved = len([p for p in problems if p.solved_on is not None and p.solved_on <= on])
    if helped or placed or solved:
        checks.append(
            RiskCheck(
                "help",
                CHECK_HELP,
                True,
                OK_HELP.format(visits=helped, placements=placed, solved=solved),
            )
        )
    else:
        checks.append(RiskCheck("help", CHECK_HELP, False, WHY_NO_HELP))

    workers = [m for m in members if rules is not None and _works(m, on, rules.working_age)]
    if rules is None:
        checks.append(RiskCheck("labour", CHECK_LABOUR, False, no_rule))
    elif workers:
        checks.append(RiskCheck("labour", CHECK_LABOUR, True, OK_LABOUR.format(n=len(workers))))
    else:
        checks.append(RiskCheck("labour", CHECK_LABOUR, False, WHY_NO_LABOUR))
    return RiskChecks(household.household_no, on, checks)
