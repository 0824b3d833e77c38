"""Synthetic pairing assistance for a synthetic county: cadres, pairings, a visit history.

``synth_pairing_build(county=..., seed=...)`` adds to a county whose registry is
already loaded (``synth.services.synth_county_build``), deterministic from the
seed and the day it is built for (``today``), set-based (numpy + ``bulk_create``):

- **cadres**: one or two village cadres per village (村委会), three to five per
  township (乡镇人民政府), and county-level helper cadres from the county's work
  units (县审计局, 县财政局…), about one per 150 managed households;
- **pairings**: every managed household paired with a cadre — mostly a cadre of
  its own village, some with a township cadre, a few with a county helper cadre
  (whom the pairing rule flags once such a household receives relief); about
  one household in twenty was reassigned during the period (history kept);
- **visits**: over the last ``quarters`` calendar quarters up to ``today``, about
  93% of paired households visited in each past quarter and, in the current
  quarter, a share growing with the days elapsed — so the demo's overdue lists
  and compliance by township look like a county at work on the day it runs;
- **problems**: about one visit in ten finds a problem (income, employment,
  medical, schooling, housing, other), most solved within weeks, some open;
- **employment help**: about 0.6% of households had a member placed in a job at
  a village poverty-alleviation micro-factory (扶贫微工厂) at 70–80 yuan a day.

The ratios follow the seed article's (over a million visits, 110,000 difficulties
solved, 1,700 people into work). Audit rows: one per cadre and per pairing, one
for the visit history as a whole (a synthetic bulk load, not a user's changes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl
from django.db import transaction
from django.utils import timezone

from fangpin.common.audit import audit_record, audit_record_many
from fangpin.common.models import AuditEvent
from fangpin.common.money import Money
from fangpin.pairing.models import (
    Cadre,
    EmploymentPlacement,
    Pairing,
    Problem,
    ProblemCategory,
    Visit,
    VisitMode,
)
from fangpin.pairing.rules import quarter_start
from fangpin.regions.models import Level, Region
from fangpin.registry.models import HEAD_RELATIONS, Household, Labour, Member

from .population import GIVEN, SURNAMES, _names

VISIT_QUARTERS = 8
VISIT_SHARE = 0.93  # households visited in a past quarter
PROBLEM_SHARE = 0.10  # visits that find a problem
SOLVED_SHARE = 0.85  # problems solved (if their solving date has come)
PLACEMENT_SHARE = 0.006  # households with a member placed in a job
REASSIGNED_SHARE = 0.05
HELP_SHARE = 0.30  # visits recording help given
COUNTY_UNITS = [
    "审计局",
    "财政局",
    "扶贫开发办公室",
    "教育局",
    "卫生健康局",
    "人力资源和社会保障局",
    "农业农村局",
    "民政局",
    "住房和城乡建设局",
    "水利局",
]
FINDINGS = [
    "家庭收入稳定，生活正常",
    "家中老人身体欠佳，按时服药",
    "孩子在校就读正常",
    "种植的小麦长势良好",
    "外出务工人员按月寄回收入",
    "住房安全，饮水正常",
    "了解到家中有慢性病患者，医保已报销",
    "养殖规模稳定，销路正常",
]
HELP = [
    "宣讲防贫保险政策",
    "协助办理医保报销",
    "联系县人社局技能培训",
    "协助申请教育资助",
    "帮助联系农产品销路",
    "协助办理临时救助申请",
    "送去米面油等慰问品",
]
PROBLEMS = {
    ProblemCategory.INCOME.value: ("收入下降，家庭开支紧张", "帮助发展庭院经济，收入回升"),
    ProblemCategory.EMPLOYMENT.value: ("家中劳动力无稳定工作", "推荐到县内企业务工"),
    ProblemCategory.MEDICAL.value: ("住院自付费用较高", "协助办理大病保险和医疗救助报销"),
    ProblemCategory.SCHOOLING.value: ("孩子上学费用负担重", "协助申请助学贷款和教育资助"),
    ProblemCategory.HOUSING.value: ("房屋墙体开裂，存在安全隐患", "纳入危房改造，已加固"),
    ProblemCategory.OTHER.value: ("家中老人无人照料", "联系村里邻里互助照料"),
}
CATEGORY_P = {"income": 0.2, "employment": 0.2, "medical": 0.25, "schooling": 0.15}
CATEGORY_P |= {"housing": 0.1, "other": 0.1}
JOBS = ["缝制书包", "服装加工", "手工编织", "电子元件组装", "食品包装"]


@dataclass
class SynthPairingResult:
    cadres: int
    pairings: int
    visits: int
    problems: int
    problems_solved: int
    placements: int


def _add_quarters(day: dt.date, n: int) -> dt.date:
    months = day.year * 12 + day.month - 1 + 3 * n
    return dt.date(months // 12, months % 12 + 1, 1)


def _phones(county_code: str, start: int, n: int) -> list[str]:
    """Unique, well-formed synthetic mobile numbers: 13 + the county's last four digits + index."""
    return [f"13{county_code[-4:]}{start + i:05d}" for i in range(n)]


def _people(rng: np.random.Generator, n: int) -> list[str]:
    surname = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), size=n)]
    return (pl.Series(surname) + _names(rng, n, GIVEN, (1, 2))).to_list()


@transaction.atomic
def synth_pairing_build(
    *, county: Region, seed: int, today: dt.date | None = None, quarters: int = VISIT_QUARTERS
) -> SynthPairingResult:
    """Add cadres, pairings and a visit history to a synthetic county (see the module doc)."""
    today = today or timezone.localdate()
    rng = np.random.default_rng([seed, int(county.code), 2013])
    towns = list(
        Region.objects.filter(parent=county, level=Level.TOWNSHIP)
        .order_by("code")
        .values_list("id", "name", "path")
    )
    villages = list(
        Region.objects.filter(path__startswith=county.path, level=Level.VILLAGE)
        .order_by("code")
        .values_list("id", "name", "path", "parent_id")
    )
    hh = list(
        Household.objects.filter(village__path__startswith=county.path)
        .order_by("household_no")
        .values_list("id", "village_id")
    )
    if not villages or not hh:
        return SynthPairingResult(0, 0, 0, 0, 0, 0)

    # --- cadres -----------------------------------------------------------------------------
    n_vil = len(villages)
    per_village = np.where(rng.random(n_vil) < 0.6, 2, 1)
    per_town = rng.integers(3, 6, size=len(towns))
    n_county = max(3, len(hh) // 150)
    cadres: list[Cadre] = []
    names = _people(rng, int(per_village.sum() + per_town.sum() + n_county))
    for (vid, vname, _, _), k in zip(villages, per_village, strict=True):
        cadres += [
            Cadre(name="", work_unit=f"{vname}委会", level=Level.VILLAGE, phone="", region_id=vid)
            for _ in range(k)
        ]
    for (tid, tname, _), k in zip(towns, per_town, strict=True):
        cadres += [
            Cadre(
                name="", work_unit=f"{tname}人民政府", level=Level.TOWNSHIP, phone="", region_id=tid
            )
            for _ in range(k)
        ]
    units = np.array(COUNTY_UNITS)[rng.integers(0, len(COUNTY_UNITS), size=n_county)]
    cadres += [
        Cadre(name="", work_unit=f"{county.name}{u}", level=Level.COUNTY, phone="", region=county)
        for u in units
    ]
    taken = Cadre.objects.filter(phone__startswith=f"13{county.code[-4:]}").count()
    for c, name, phone in zip(cadres, names, _phones(county.code, taken, len(cadres)), strict=True):
        c.name, c.phone = name, phone
    cadres = Cadre.objects.bulk_create(cadres, batch_size=2000)
    ids = np.array([c.pk for c in cadres], dtype=np.int64)
    n_vc = int(per_village.sum())
    n_tc = int(per_town.sum())
    vil_offset = np.concatenate([[0], np.cumsum(per_village)[:-1]])
    town_offset = n_vc + np.concatenate([[0], np.cumsum(per_town)[:-1]])

    # --- pairings: one per household, most with a cadre of its own village ---------------------
    vil_index = {vid: i for i, (vid, *_rest) in enumerate(villages)}
    town_index = {tid: i for i, (tid, *_rest) in enumerate(towns)}
    hh_id = np.array([h for h, _ in hh], dtype=np.int64)
    hv = np.array([vil_index[v] for _, v in hh])
    ht = np.array([town_index[villages[i][3]] for i in hv])
    n = len(hh)
    kind = rng.choice(3, size=n, p=[0.88, 0.08, 0.04])  # village, township, county cadre
    pick_v = vil_offset[hv] + (rng.random(n) * per_village[hv]).astype(int)
    pick_t = town_offset[ht] + (rng.random(n) * per_town[ht]).astype(int)
    pick_c = n_vc + n_tc + rng.integers(0, n_county, size=n)
    cadre_at = np.select([kind == 0, kind == 1], [pick_v, pick_t], default=pick_c)

    first_q = _add_quarters(quarter_start(today), -(quarters - 1))
    q_starts = [_add_quarters(first_q, k) for k in range(quarters + 1)]
    base = first_q.toordinal()
    q_lo = np.array([d.toordinal() for d in q_starts[:-1]]) - base
    q_hi = np.array([d.toordinal() for d in q_starts[1:]]) - base - 1  # last day of each quarter
    last_day = today.toordinal() - base
    span = last_day + 1
    # most pairings began before the period; one in ten during it
    late = rng.random(n) < 0.10
    start = np.where(late, rng.integers(0, max(span, 1), size=n), -rng.integers(30, 700, size=n))
    # a reassigned household had another village cadre before (the other one of its village)
    other_v = vil_offset[hv] + (pick_v - vil_offset[hv] + 1) % per_village[hv]
    prev_cadre = np.where(kind == 0, other_v, pick_v)
    reassigned = (
        late & (rng.random(n) < REASSIGNED_SHARE / 0.10) & ((per_village[hv] > 1) | (kind != 0))
    )
    prev_start = start - rng.integers(365, 900, size=n)

    def day(offset: np.ndarray) -> list[dt.date]:
        return [dt.date.fromordinal(base + int(o)) for o in offset]

    prev_rows = np.flatnonzero(reassigned)
    pairings = [
        Pairing(
            household_id=int(hh_id[i]),
            cadre_id=int(ids[prev_cadre[i]]),
            start_date=s,
            end_date=e,
            end_reason="reassigned (改派)",
        )
        for i, s, e in zip(
            prev_rows, day(prev_start[prev_rows]), day(start[prev_rows]), strict=True
        )
    ]
    pairings += [
        Pairing(household_id=int(h), cadre_id=int(ids[c]), start_date=s)
        for h, c, s in zip(hh_id, cadre_at, day(start), strict=True)
    ]
    pairings = Pairing.objects.bulk_create(pairings, batch_size=5000)

    # --- visits: household × quarter grid ------------------------------------------------------
    followed_from = np.where(reassigned, prev_start, start)  # first day someone was paired
    lo = np.maximum(q_lo[None, :], followed_from[:, None])
    hi = np.minimum(q_hi[None, :], last_day)
    hi = np.broadcast_to(hi, lo.shape)
    possible = lo <= hi
    share = np.full(quarters, VISIT_SHARE)
    # the current quarter: a share growing with the days elapsed (cadres visit through it)
    share[-1] = VISIT_SHARE * min(1.0, (last_day - q_lo[-1] + 1) / (q_hi[-1] - q_lo[-1] + 1))
    visited = possible & (rng.random(lo.shape) < share[None, :])
    rows, cols = np.nonzero(visited)
    v_day = lo[rows, cols] + (rng.random(rows.size) * (hi[rows, cols] - lo[rows, cols] + 1)).astype(
        int
    )
    v_cadre = np.where(reassigned[rows] & (v_day < start[rows]), prev_cadre[rows], cadre_at[rows])
    v_mode = np.where(rng.random(rows.size) < 0.8, VisitMode.IN_PERSON, VisitMode.PHONE)
    v_finding = rng.integers(0, len(FINDINGS), size=rows.size)
    v_help = np.where(rng.random(rows.size) < HELP_SHARE, rng.integers(0, len(HELP), rows.size), -1)
    heads = dict(
        Member.objects.filter(
            household__village__path__startswith=county.path, relation__in=HEAD_RELATIONS
        ).values_list("household_id", "name")
    )
    # problems and placements hang on visits: those visits are written first, keeping their ids
    has_problem = rng.random(rows.size) < PROBLEM_SHARE
    workers: dict[int, tuple[int, str]] = {}
    for mid, hid, name in (
        Member.objects.filter(household__village__path__startswith=county.path, labour=Labour.ABLE)
        .order_by("-id")
        .values_list("id", "household_id", "name")
    ):
        workers[hid] = (mid, name)
    placed_hh = np.flatnonzero(
        (rng.random(n) < PLACEMENT_SHARE) & np.isin(hh_id, list(workers) or [-1])
    )
    # the placement is recorded on one of the household's visits (rows are sorted by household)
    first = np.searchsorted(rows, placed_hh, side="left")
    count = np.searchsorted(rows, placed_hh, side="right") - first
    placed_visit = (first + (rng.random(placed_hh.size) * count).astype(np.int64))[count > 0]
    has_placement = np.zeros(rows.size, dtype=bool)
    has_placement[placed_visit] = True
    v_help = np.where(has_placement, len(HELP), v_help)  # "introduced to the micro-factory"
    help_texts = [*HELP, "介绍到村扶贫微工厂就业"]

    def visit(k: int) -> Visit:
        i = int(rows[k])
        head = heads.get(int(hh_id[i]), "户主")
        return Visit(
            household_id=int(hh_id[i]),
            cadre_id=int(ids[v_cadre[k]]),
            visited_on=dt.date.fromordinal(base + int(v_day[k])),
            mode=str(v_mode[k]),
            met=head if v_mode[k] == VisitMode.IN_PERSON else f"{head}（电话）",
            findings=FINDINGS[int(v_finding[k])],
            help_given=help_texts[int(v_help[k])] if v_help[k] >= 0 else "",
        )

    keyed = np.flatnonzero(has_problem | has_placement)
    kept = Visit.objects.bulk_create([visit(int(k)) for k in keyed], batch_size=5000)
    visit_id = {int(k): v.pk for k, v in zip(keyed, kept, strict=True)}
    rest = np.flatnonzero(~(has_problem | has_placement))
    for chunk in np.array_split(rest, max(1, rest.size // 20000)):
        Visit.objects.bulk_create([visit(int(k)) for k in chunk], batch_size=5000)

    # --- problems, mostly solved within weeks -------------------------------------------------
    p_idx = np.flatnonzero(has_problem)
    cats = np.array(list(CATEGORY_P))[
        rng.choice(len(CATEGORY_P), size=p_idx.size, p=np.array(list(CATEGORY_P.values())))
    ]
    solve_day = v_day[p_idx] + rng.integers(7, 120, size=p_idx.size)
    solved = (rng.random(p_idx.size) < SOLVED_SHARE) & (solve_day <= last_day)
    problems = [
        Problem(
            household_id=int(hh_id[rows[k]]),
            visit_id=visit_id[int(k)],
            category=str(c),
            description=PROBLEMS[str(c)][0],
            found_on=dt.date.fromordinal(base + int(v_day[k])),
            solved_on=dt.date.fromordinal(base + int(d)) if s else None,
            solution=PROBLEMS[str(c)][1] if s else "",
        )
        for k, c, d, s in zip(p_idx, cats, solve_day, solved, strict=True)
    ]
    Problem.objects.bulk_create(problems, batch_size=5000)

    # --- employment help: a job at the village micro-factory, 70–80 yuan a day ----------------
    wages = rng.integers(70, 81, size=placed_visit.size)
    jobs = rng.integers(0, len(JOBS), size=placed_visit.size)
    placements = []
    for k, wage, job in zip(placed_visit, wages, jobs, strict=True):
        i = int(rows[k])
        member_id, name = workers[int(hh_id[i])]
        placements.append(
            EmploymentPlacement(
                household_id=int(hh_id[i]),
                visit_id=visit_id[int(k)],
                member_id=member_id,
                person_name=name,
                employer=f"{villages[hv[i]][1]}扶贫微工厂",
                job=JOBS[int(job)],
                daily_wage=Money(int(wage)),
                started_on=dt.date.fromordinal(base + int(v_day[k])),
            )
        )
    EmploymentPlacement.objects.bulk_create(placements, batch_size=5000)

    # --- audit: one row per cadre and per pairing, one for the visit history ------------------
    path_of_region = {vid: p for vid, _, p, _ in villages} | {tid: p for tid, _, p in towns}
    path_of_region[county.pk] = county.path
    vil_path = {vid: p for vid, _, p, _ in villages}
    hh_path = {h: vil_path[v] for h, v in hh}
    events = [
        AuditEvent(
            action="pairing.cadre.created",
            object_type="pairing.cadre",
            object_id=str(c.pk),
            region_path=path_of_region[c.region_id],
            data={"source": "synth"},
        )
        for c in cadres
    ]
    events += [
        AuditEvent(
            action="pairing.pairing.started",
            object_type="pairing.pairing",
            object_id=str(p.pk),
            region_path=hh_path[p.household_id],
            to_state=str(p.cadre_id),
            data={"source": "synth", "start_date": p.start_date.isoformat()},
        )
        for p in pairings
    ]
    audit_record_many(events)
    result = SynthPairingResult(
        cadres=len(cadres),
        pairings=len(pairings),
        visits=int(rows.size),
        problems=len(problems),
        problems_solved=int(solved.sum()),
        placements=len(placements),
    )
    audit_record(
        actor=None,
        action="pairing.synth.loaded",
        obj=county,
        region_path=county.path,
        data={"seed": seed, "today": today.isoformat(), **result.__dict__},
    )
    return result


def synth_pairing_link_demo_user(*, user) -> Cadre | None:
    """Let a demo login act as a synthetic cadre of its region (for ``fangpin demo``).

    A village cadre login gets the village cadre with the most households; a
    helper cadre login (region: the county) the county helper with the most.
    Returns the cadre, or None when there is none (no pairing data) or the user
    is already linked.
    """
    from django.db.models import Count

    from fangpin.pairing.cadres import cadre_user_link

    if Cadre.objects.filter(user=user).exists() or user.region_id is None:
        return None
    level = Level.VILLAGE if user.region.level == Level.VILLAGE else Level.COUNTY
    cadre = (
        Cadre.objects.filter(region=user.region, level=level, user__isnull=True)
        .annotate(n=Count("pairings"))
        .order_by("-n", "pk")
        .first()
    )
    if cadre is None:
        return None
    return cadre_user_link(cadre=cadre, user=user)
