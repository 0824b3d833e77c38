"""Synthetic department feeds for a synthetic county, from the same seed as its population.

``county_feeds(population, seed=…, years=…)`` draws, set-based with numpy and
polars (no loop over people), the files the departments would send for each
year — every value as text, headers as the schema's English field names — so
they go through exactly the same validation and ingestion as a real file:

- roster (公安户籍): every person, every year;
- medical (医保): in-patient stays of ~8% of people a year, total cost
  log-normal with a heavy tail (median ~5,000 yuan, about 1 in 600 above ~50,000);
  basic insurance, serious-illness insurance above a deductible, medical
  assistance for managed households; self-paid is the rest, to the fen;
- education (教育): people aged 16–23 in September, about half in
  senior-high/college/bachelor, with tuition (2% at expensive schools),
  accommodation, textbooks, loans and grants;
- accident (公安/应急): ~0.15% of households a year, log-normal losses, some
  commercial insurance and social assistance;
- farming (农业农村): ~1% of households run an insured breeding/planting project,
  a fifth of them lose money in a year (natural disaster or price fall);
- assistance (民政): 低保 for households below the line (with the assessed income),
  特困 for lone elders, temporary assistance;
- disability (残联): certificates of ~2.5% of people;
- property / vehicle / business / payroll (不动产/车管/市场监管/财政): a small share
  of people, for the exclusions.

``synth_feeds_load(…)`` writes each file as Parquet to a scratch directory and
imports it with ``feeds.services.feed_import`` (one batch per kind and year).
The distributions are plausible, not yet calibrated to the seed's city funnel.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from .population import Population

IN_PATIENT_RATE = 0.08
ACCIDENT_RATE = 0.0015
FARMING_PROJECT_SHARE = 0.01
FARMING_LOSS_RATE = 0.2
HIGHER_EDUCATION_SHARE = 0.5
COMMERCIAL_HOUSING_SHARE = 0.02  # of heads
VEHICLE_SHARE = 0.04  # of heads
BUSINESS_SHARE = 0.006  # of heads
PAYROLL_SHARE = 0.004  # of adults
DISABILITY_SHARE = 0.025  # of people holding a disability certificate (残疾人证)
# 低保: households whose true per-capita income is below the line take it up at this rate
DIBAO_TAKE_UP = 0.6
TEKUN_SHARE = 0.25  # of lone people aged 65+ (特困供养)
TEMPORARY_AID_RATE = 0.004  # of households a year (临时救助)
# the rural minimum-living line used to draw who is on 低保 (synthetic; POLICY.md reference values)
DIBAO_LINE = {2017: 4301, 2018: 4833, 2019: 5336, 2020: 5962}
REGISTERS_FROM = 2005
EXPENSIVE_SCHOOL_SHARE = 0.04  # private colleges, art schools
SERIOUS_ILLNESS_SHARE = 0.0045  # of in-patient stays: a catastrophic illness
SERIOUS_MEDIAN = 60_000  # yuan, total cost of such a stay (for a household of median income)
SPENDING_ELASTICITY = 1.5  # medical and school spending grow with the household's income
MEDICAL_ASSISTANCE = {"unstable": 0.7, "marginal": 0.5, "sudden": 0.3, "ordinary": 0.0}


def _yuan(fen: pl.Expr) -> pl.Expr:
    """Integer fen as exact yuan text ('1234.05')."""
    return pl.format("{}.{}", fen // 100, (fen % 100).cast(pl.String).str.zfill(2))


def _days(rng: np.random.Generator, year: int, n: int, *, upto: int = 365) -> np.ndarray:
    start = np.datetime64(f"{year}-01-01")
    return start + rng.integers(0, upto, size=n).astype("timedelta64[D]")


def _to_fen(yuan: np.ndarray) -> np.ndarray:
    return np.round(yuan).astype(np.int64) * 100 + 0  # whole yuan drawn, stored exact in fen


# the date that says when a row's event happened, by kind: a row after the day the feeds
# run to (``until``) has not happened yet
EVENT_DATE = {
    "medical": "discharged",  # settled on discharge
    "education": "term_start",
    "accident": "event_date",
    "farming": "loss_date",
    "property": "registered",
    "vehicle": "registered",
    "business": "registered",
    "disability": "issued",
}


def county_feeds(
    population: Population,
    *,
    seed: int,
    years: Sequence[int],
    until: dt.date | None = None,
) -> dict[tuple[str, int], pl.DataFrame]:
    """The feed files of a county: (kind, year) -> frame of text columns.

    ``until``: the day the departments' data runs to (a year still running holds its
    events so far: a stay discharged, an accident, a loss, a term started, a certificate
    registered by then); None for whole years.
    """
    out = _county_feeds(population, seed=seed, years=years)
    if until is None:
        return out
    day = until.isoformat()  # the dates are ISO text: compared as text
    return {
        key: frame.filter(pl.col(EVENT_DATE[key[0]]) <= day) if key[0] in EVENT_DATE else frame
        for key, frame in out.items()
    }


def _county_feeds(
    population: Population, *, seed: int, years: Sequence[int]
) -> dict[tuple[str, int], pl.DataFrame]:
    rng = np.random.default_rng([seed, int(population.county_code), 0xFEED])
    people = population.people.join(
        population.households.select("household_no", "village_code", "managed", "household_type"),
        on="household_no",
    )
    heads = people.filter(pl.col("relation") == "户主")
    head_rows = np.flatnonzero(people["relation"].to_numpy() == "户主")
    out: dict[tuple[str, int], pl.DataFrame] = {}
    n_people = people.height
    ids = people["id_number"].to_numpy()
    # medical assistance (医疗救助) covers this share of what insurance leaves, by household type
    assist_rate = (
        people.select(pl.col("household_type").replace_strict(MEDICAL_ASSISTANCE, default=0.0))
        .to_series()
        .to_numpy()
    )
    county = population.county_code

    for year in years:
        ystr = str(year)
        # how well off each person's household is this year (per-capita income / the median):
        # better-off households spend more when ill and choose dearer schools (ability to pay)
        per_capita = (
            people.select("household_no")
            .join(
                population.incomes.filter(pl.col("year") == year).join(
                    population.households.select("household_no", "size"), on="household_no"
                ),
                on="household_no",
                how="left",
                maintain_order="left",
            )
            .select(pl.col("annual_income_fen") / pl.col("size"))
            .to_series()
            .fill_null(strategy="mean")
            .to_numpy()
        )
        wealth = per_capita / np.median(per_capita)
        out[("roster", year)] = people.select(
            pl.lit(ystr).alias("year"),
            "id_number",
            "name",
            "household_no",
            "village_code",
            "relation",
        )

        # --- medical: in-patient stays --------------------------------------------------
        patients = np.flatnonzero(rng.random(n_people) < IN_PATIENT_RATE)
        second = patients[rng.random(patients.size) < 0.15]  # some are admitted twice
        stays = np.concatenate([patients, second])
        n = stays.size
        serious_case = rng.random(n) < SERIOUS_ILLNESS_SHARE  # cancer, stroke, dialysis…
        total = (
            np.where(
                serious_case,
                np.exp(rng.normal(np.log(SERIOUS_MEDIAN), 0.6, size=n)),
                np.exp(rng.normal(np.log(5000), 0.7, size=n)),
            )
            * wealth[stays] ** SPENDING_ELASTICITY
        )
        total = np.minimum(total, 2_000_000)
        total_fen = _to_fen(total) + rng.integers(0, 100, size=n)
        basic = (total_fen * rng.uniform(0.45, 0.65, size=n)).astype(np.int64)
        serious = np.maximum(total_fen - basic - 1_500_000, 0) * 0.5
        serious = serious.astype(np.int64)
        assist = ((total_fen - basic - serious) * assist_rate[stays]).astype(np.int64)
        admitted = _days(rng, year, n, upto=340)
        discharged = admitted + rng.integers(2, 25, size=n).astype("timedelta64[D]")
        out[("medical", year)] = (
            pl.DataFrame(
                {
                    "settlement_no": [f"S{county}{year}{i:08d}" for i in range(n)],
                    "id_number": ids[stays],
                    "hospital": np.where(rng.random(n) < 0.6, "县人民医院", "市中心医院"),
                    "admitted": admitted.astype("datetime64[D]").astype(str),
                    "discharged": discharged.astype("datetime64[D]").astype(str),
                    "total_cost": total_fen,
                    "basic_insurance": basic,
                    "serious_illness": serious,
                    "medical_assistance": assist,
                }
            )
            .with_columns(
                (
                    pl.col("total_cost")
                    - pl.col("basic_insurance")
                    - pl.col("serious_illness")
                    - pl.col("medical_assistance")
                ).alias("self_paid")
            )
            .with_columns(
                [
                    _yuan(pl.col(c)).alias(c)
                    for c in (
                        "total_cost",
                        "basic_insurance",
                        "serious_illness",
                        "medical_assistance",
                        "self_paid",
                    )
                ]
            )
        )

        # --- education: students beyond compulsory education ---------------------------
        age = (
            people.select(
                (pl.lit(dt.date(year, 9, 1)) - pl.col("birth_date")).dt.total_days() // 365
            )
            .to_series()
            .to_numpy()
        )
        student = np.flatnonzero(
            (age >= 16) & (age <= 23) & (rng.random(n_people) < HIGHER_EDUCATION_SHARE)
        )
        n = student.size
        level = np.where(age[student] < 19, "高中", np.where(rng.random(n) < 0.5, "专科", "本科"))
        expensive = rng.random(n) < np.minimum(  # private colleges, art schools
            EXPENSIVE_SCHOOL_SHARE * wealth[student] ** SPENDING_ELASTICITY, 0.9
        )
        tuition = np.select(
            [level == "高中", expensive],
            [rng.integers(1000, 2500, size=n), rng.integers(10000, 20000, size=n)],
            default=rng.integers(3500, 5500, size=n),
        )
        room = rng.integers(800, 1200, size=n)
        books = rng.integers(300, 1200, size=n)
        loan = np.where(rng.random(n) < 0.4, np.minimum(8000, tuition), 0)
        grant = np.where(rng.random(n) < 0.2, rng.integers(2000, 3001, size=n), 0)
        grant = np.minimum(grant, tuition + room + books - loan)
        out[("education", year)] = pl.DataFrame(
            {
                "id_number": ids[student],
                "school": np.where(level == "高中", "县第一中学", "河北某学院"),
                "level": level,
                "full_time": np.where(rng.random(n) < 0.97, "是", "否"),
                "term_start": np.full(n, f"{year}-09-01"),
                "tuition": tuition.astype(str),
                "accommodation": room.astype(str),
                "textbooks": books.astype(str),
                "loan": loan.astype(str),
                "grant": grant.astype(str),
            }
        )

        # --- accidents and disasters -------------------------------------------------------
        heads_ids = heads["id_number"].to_numpy()
        hh_wealth = wealth[head_rows]
        hit = np.flatnonzero(rng.random(heads.height) < ACCIDENT_RATE)
        n = hit.size
        loss = _to_fen(
            np.exp(rng.normal(np.log(8000), 0.9, size=n)) * hh_wealth[hit] ** SPENDING_ELASTICITY
        )
        insured = (loss * np.where(rng.random(n) < 0.3, rng.uniform(0.3, 0.8, size=n), 0)).astype(
            np.int64
        )
        assist = np.where(rng.random(n) < 0.3, np.minimum(200_000, loss - insured), 0)
        out[("accident", year)] = pl.DataFrame(
            {
                "event_no": [f"A{county}{year}{i:07d}" for i in range(n)],
                "id_number": heads_ids[hit],
                "event_date": _days(rng, year, n).astype(str),
                "event_kind": rng.choice(["交通事故", "火灾", "自然灾害", "意外伤害"], size=n),
                "loss": loss,
                "insurance_paid": insured,
                "assistance_paid": assist,
            }
        ).with_columns(
            [_yuan(pl.col(c)).alias(c) for c in ("loss", "insurance_paid", "assistance_paid")]
        )

        # --- farming losses (the project holders are the same every year) -----------------
        holder_rng = np.random.default_rng([seed, int(county), 0xFA])
        holders = np.flatnonzero(holder_rng.random(heads.height) < FARMING_PROJECT_SHARE)
        lost = holders[rng.random(holders.size) < FARMING_LOSS_RATE]
        n = lost.size
        loss = _to_fen(np.exp(rng.normal(np.log(6000), 0.8, size=n)))
        insured_flag = rng.random(n) < 0.9
        paid = np.where(insured_flag, (loss * rng.uniform(0.3, 0.6, size=n)).astype(np.int64), 0)
        out[("farming", year)] = pl.DataFrame(
            {
                "project_no": [f"F{county}{h:07d}" for h in lost],
                "id_number": heads_ids[lost],
                "project": rng.choice(["肉牛养殖", "生猪养殖", "设施蔬菜", "食用菌种植"], size=n),
                "insured": np.where(insured_flag, "是", "否"),
                "cause": rng.choice(["自然灾害", "市场价格"], size=n),
                "loss_date": _days(rng, year, n).astype(str),
                "loss": loss,
                "insurance_paid": paid,
            }
        ).with_columns([_yuan(pl.col(c)).alias(c) for c in ("loss", "insurance_paid")])

        # --- social assistance (民政): 低保 for poor households, 特困 for lone elders, one-offs ---
        out[("assistance", year)] = _assistance(rng, population, heads, year=year)

        # --- public payroll of the year ---------------------------------------------------------
        adults = np.flatnonzero((age >= 20) & (age < 60) & (rng.random(n_people) < PAYROLL_SHARE))
        out[("payroll", year)] = pl.DataFrame(
            {
                "year": np.full(adults.size, ystr),
                "id_number": ids[adults],
                "employer": rng.choice(
                    ["县教育局", "乡镇人民政府", "县人民医院"], size=adults.size
                ),
            }
        )

    # --- registers (property, vehicles, businesses): registered over the years up to the last ---
    last = max(years)
    reg_rng = np.random.default_rng([seed, int(county), 0xEE])
    heads_ids = heads["id_number"].to_numpy()

    def registered(n: int) -> np.ndarray:
        span = (np.datetime64(f"{last}-12-31") - np.datetime64(f"{REGISTERS_FROM}-01-01")).astype(
            int
        )
        return (
            np.datetime64(f"{REGISTERS_FROM}-01-01")
            + reg_rng.integers(0, span, size=n).astype("timedelta64[D]")
        ).astype(str)

    own = np.flatnonzero(reg_rng.random(heads.height) < COMMERCIAL_HOUSING_SHARE)
    registers = {
        "property": pl.DataFrame(
            {
                "certificate_no": [f"P{county}{i:08d}" for i in range(own.size)],
                "id_number": heads_ids[own],
                "registered": registered(own.size),
                "location": np.full(own.size, "县城某小区"),
                "commercial": np.where(reg_rng.random(own.size) < 0.9, "是", "否"),
            }
        )
    }
    cars = np.flatnonzero(reg_rng.random(heads.height) < VEHICLE_SHARE)
    registers["vehicle"] = pl.DataFrame(
        {
            "plate": [f"冀D{county[-3:]}{i:05d}" for i in range(cars.size)],
            "id_number": heads_ids[cars],
            "registered": registered(cars.size),
            "use": reg_rng.choice(["非营运", "营运", "农用"], size=cars.size, p=[0.6, 0.1, 0.3]),
        }
    )
    firms = np.flatnonzero(reg_rng.random(heads.height) < BUSINESS_SHARE)
    registers["business"] = pl.DataFrame(
        {
            "credit_code": [f"91{county}{i:010d}" for i in range(firms.size)],
            "id_number": heads_ids[firms],
            "registered": registered(firms.size),
            "capital": (reg_rng.integers(1, 200, size=firms.size) * 10_000).astype(str),
        }
    )
    disabled = np.flatnonzero(reg_rng.random(n_people) < DISABILITY_SHARE)
    registers["disability"] = pl.DataFrame(
        {
            "certificate_no": [f"{county}{i:08d}D" for i in range(disabled.size)],
            "id_number": ids[disabled],
            "category": reg_rng.choice(
                ["肢体", "视力", "听力", "言语", "智力", "精神", "多重"],
                size=disabled.size,
                p=[0.45, 0.14, 0.16, 0.02, 0.08, 0.11, 0.04],
            ),
            "grade": reg_rng.choice(["一级", "二级", "三级", "四级"], size=disabled.size),
            "issued": registered(disabled.size),
        }
    )
    for kind, frame in registers.items():
        out[(kind, last)] = (
            frame  # one file per register, its rows partitioned by registration year
        )
    return out


def _assistance(
    rng: np.random.Generator, population: Population, heads: pl.DataFrame, *, year: int
) -> pl.DataFrame:
    """民政's social-assistance list of ``year``: who received 低保/特困/临时救助, and how much.

    低保 goes to households whose true per-capita income is below the line (most take it
    up); the department's assessed income (核定家庭人均年收入) is the truth seen a little
    low, as an assessment made earlier in the year would. 特困 goes to lone elders.
    """
    line = DIBAO_LINE.get(year, DIBAO_LINE[max(DIBAO_LINE)]) * 100
    hh = (
        heads.select("household_no", "id_number", "birth_date")
        .join(population.households.select("household_no", "size"), on="household_no")
        .join(
            population.incomes.filter(pl.col("year") == year).select(
                "household_no", "annual_income_fen"
            ),
            on="household_no",
            how="left",
        )
    )
    n = hh.height
    size = hh["size"].to_numpy()
    income = hh["annual_income_fen"].fill_null(0).to_numpy()
    per_capita = income // np.maximum(size, 1)
    age = (
        hh.select((pl.lit(dt.date(year, 12, 31)) - pl.col("birth_date")).dt.total_days() // 365)
        .to_series()
        .to_numpy()
    )
    draw = rng.random(n)
    dibao = (per_capita < line) & (draw < DIBAO_TAKE_UP)
    tekun = ~dibao & (size == 1) & (age >= 65) & (rng.random(n) < TEKUN_SHARE)
    temporary = ~dibao & ~tekun & (rng.random(n) < TEMPORARY_AID_RATE)
    assessed = (per_capita * rng.uniform(0.85, 1.0, size=n)).astype(np.int64)
    kind = np.select([dibao, tekun, temporary], ["低保", "特困", "临时救助"], default="")
    amount = np.select(
        [dibao, tekun],
        [np.maximum(line - assessed, 60_000) * size, np.full(n, 600_000, dtype=np.int64)],
        default=rng.integers(500, 3001, size=n) * 100,
    )
    keep = kind != ""
    return pl.DataFrame(
        {
            "year": np.full(int(keep.sum()), str(year)),
            "id_number": hh["id_number"].to_numpy()[keep],
            "assistance": kind[keep],
            "amount": amount[keep],
            "assessed_income": np.where(temporary, -1, assessed)[keep],
        }
    ).with_columns(
        _yuan(pl.col("amount")).alias("amount"),
        pl.when(pl.col("assessed_income") >= 0)
        .then(_yuan(pl.col("assessed_income")))
        .otherwise(pl.lit(""))
        .alias("assessed_income"),
    )


@dataclass
class SynthFeedsResult:
    batches: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds_generate: float = 0.0
    seconds_import: float = 0.0


def synth_feeds_load(
    *,
    population: Population | Sequence[Population],
    seed: int,
    years: Sequence[int],
    actor: Any = None,
    progress: Callable[[str], None] | None = None,
    until: dt.date | None = None,
) -> SynthFeedsResult:
    """Generate the feeds of one county (or several) and import each file into the lake.

    ``until``: the day the data runs to (``county_feeds``), and the "today" the import
    checks dates against; None for whole years checked against today.
    Several counties make one file per kind and year, as a city-level department
    sends it: each county's part is drawn, the parts are written as one Parquet
    file to a scratch directory, and that file is validated and imported like any
    other.
    """
    import time

    from fangpin.feeds.services import feed_import

    populations = [population] if isinstance(population, Population) else list(population)
    say = progress or (lambda message: None)
    result = SynthFeedsResult()
    started = time.perf_counter()
    parts: dict[tuple[str, int], list[pl.DataFrame]] = {}
    for pop in populations:  # one county at a time, each set-based
        for key, frame in county_feeds(pop, seed=seed, years=years, until=until).items():
            if frame.height:
                parts.setdefault(key, []).append(frame)
    result.seconds_generate = time.perf_counter() - started
    started = time.perf_counter()
    codes = "-".join(p.county_code for p in populations) if len(populations) < 3 else "city"
    with tempfile.TemporaryDirectory(prefix="fangpin-feeds-") as scratch:
        for (kind, year), frames in parts.items():
            path = Path(scratch) / f"{kind}-{codes}-{year}.parquet"
            pl.concat(frames).write_parquet(path, compression="lz4")
            del frames[:]  # the file holds them now
            imported = feed_import(
                kind=kind, path=path, actor=actor, display_name=f"synth:{path.name}", today=until
            )
            if not imported.ok:
                raise ValueError(f"synthetic {kind} {year} refused: {imported.batch.refusal}")
            rows = imported.batch.rows_total
            result.batches += 0 if imported.duplicate else 1
            result.rows[kind] = result.rows.get(kind, 0) + rows
            say(f"  {kind} {year}: {rows:,} rows")
            path.unlink()
    result.seconds_import = time.perf_counter() - started
    return result


ERR_YEARS = "--years must be a year or a range such as 2017-2019 (年度格式错误)"


def synth_feeds_years(text: str) -> list[int]:
    """'2019' → [2019]; '2017-2019' → [2017, 2018, 2019]."""
    parts = text.strip().split("-")
    try:
        first, last = int(parts[0]), int(parts[-1])
    except ValueError:
        raise ValueError(ERR_YEARS) from None
    if len(parts) > 2 or first > last or first < 2000:
        raise ValueError(ERR_YEARS)
    return list(range(first, last + 1))
