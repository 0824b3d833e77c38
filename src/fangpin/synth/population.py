"""A synthetic rural population, deterministic from a seed, built set-based with numpy/polars.

``county_population(seed=..., county_code=..., households=...)`` returns the
whole rural roster of one county as polars frames — townships, villages,
households and people — with valid resident ID numbers (GB 11643 check
character), realistic household sizes and relations, household types and
incomes for three years — 2017–2019, or the ``years`` asked for (the demo draws the
current year and the two before). Nothing here touches the database: ``synth.services``
loads the managed part into the registry, and the feeds issue writes the whole
roster into the lake from the same frames.

Shapes follow a Handan county such as 魏县 (Wei County): about 800,000 rural
people in 230,000 households, some 21 townships and 560 villages. About 10% of
households are *managed*: unstable out-of-poverty, marginal, sudden hardship,
and ordinary households that were warned later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from fangpin.common.idnumber import CHECK_CHARS, WEIGHTS
from fangpin.policy.lines import income_line_of_year
from fangpin.policy.loader import parameters_default

COUNTY_HOUSEHOLDS = 230_000
HOUSEHOLDS_PER_VILLAGE = 410
VILLAGES_PER_TOWNSHIP = 27
YEARS = (2017, 2018, 2019)

# household size 1..8, shares close to rural Hebei (mean ≈ 3.5)
SIZE_P = np.array([0.10, 0.20, 0.22, 0.23, 0.14, 0.07, 0.03, 0.01])
# household type shares of the whole roster; "managed" = every non-ordinary + a few ordinary
TYPE_P = {"unstable": 0.030, "marginal": 0.055, "sudden": 0.005, "ordinary": 0.910}
INCOME_GROWTH = 1.08  # rural incomes grew about 8% a year in 2017–2019
INCOME_SHOCK = 0.06  # log-sd of a household's year-on-year change around that growth
ORDINARY_MANAGED_SHARE = 0.011  # ordinary households that a warning or application brought in

SURNAMES = list(
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段漕钱汤尹黎易常武乔贺赖龚文"
)
GIVEN = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彩春菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺媛艳瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜可姬舒影荔枝思丽晨旭浩宇"
)
PLACE = list(
    "东西南北前后大小王李张刘陈杨赵黄周吴徐孙马高郭林何罗梁宋郑谢韩唐冯董程曹袁邓许沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段钱汤尹黎常武乔贺赖龚文庄集营屯寨堡店桥河湾坡沟岗台"
)
TOWNSHIP_SUFFIX = ["镇", "乡"]
BANKS = ["河北农村信用社", "邮储银行", "农业银行", "邯郸银行"]


@dataclass(frozen=True)
class Population:
    county_code: str
    townships: pl.DataFrame  # code, name
    villages: pl.DataFrame  # code, name, township_code
    households: (
        pl.DataFrame
    )  # household_no, village_code, household_type, managed, size, bank, bank_account
    people: pl.DataFrame  # household_no, name, id_number, relation, labour, sex, birth_date
    incomes: pl.DataFrame  # household_no, year, annual_income_fen


def _names(
    rng: np.random.Generator, n: int, alphabet: list[str], lengths: tuple[int, int]
) -> pl.Series:
    """``n`` random names of ``lengths[0]``..``lengths[1]`` characters from ``alphabet``."""
    chars = pl.Series(alphabet)
    k = rng.integers(lengths[0], lengths[1] + 1, size=n)
    picks = rng.integers(0, len(alphabet), size=(lengths[1], n))
    parts = [
        pl.when(pl.Series(k > j)).then(chars.gather(picks[j])).otherwise(pl.lit(""))
        for j in range(lengths[1])
    ]
    return pl.select(pl.concat_str(parts)).to_series()


def _unique_place_names(rng: np.random.Generator, n: int, suffixes: list[str]) -> list[str]:
    """n distinct place names (two characters and a suffix), deterministic from ``rng``."""
    chars = np.array(PLACE)
    seen: set[str] = set()
    names: list[str] = []
    while len(names) < n:  # a few hundred names at most, not a loop over people
        a, b = chars[rng.integers(0, len(chars), size=2)]
        suffix = suffixes[int(rng.integers(0, len(suffixes)))]
        name = f"{a}{b}{suffix}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _spread(rng: np.random.Generator, n: int, groups: int) -> np.ndarray:
    """Sorted group numbers for ``n`` items: every group gets one, the rest fall at random."""
    if n <= groups:
        return np.arange(n)
    return np.sort(np.concatenate([np.arange(groups), rng.integers(0, groups, size=n - groups)]))


def _check_chars(first17: np.ndarray) -> np.ndarray:
    """GB 11643 check characters for an array of 17-digit strings, vectorized."""
    digits = np.frombuffer("".join(first17).encode("ascii"), dtype=np.uint8).reshape(-1, 17) - ord(
        "0"
    )
    total = digits.astype(np.int64) @ np.array(WEIGHTS, dtype=np.int64)
    return np.array(list(CHECK_CHARS))[total % 11]


def income_scale(*, county_code: str, first_year: int) -> float:
    """How much richer the first of the years drawn is than 2017, the year the income
    medians below were set for: the income line's growth since then (the line stands for
    the cost of living incomes are measured against), so that a household stands to the
    line of a later year as it would have stood to 2017's. 1 for 2017 itself, or where
    the policy has no line for either year."""
    parameters = parameters_default()
    base = income_line_of_year(parameters, county=county_code, year=YEARS[0])
    line = income_line_of_year(parameters, county=county_code, year=first_year)
    return float(line / base) if base and line else 1.0


def county_population(
    *,
    seed: int,
    county_code: str = "130434",
    households: int = COUNTY_HOUSEHOLDS,
    years: Sequence[int] = YEARS,
    as_of: dt.date | None = None,
) -> Population:
    """The rural roster of one county, with incomes for ``years`` (consecutive, oldest
    first) and everyone's age as at ``as_of`` (default: the end of the last of them — a
    year still running passes today, so that no one is born after it)."""
    years = tuple(years)
    as_of = as_of or dt.date(years[-1], 12, 31)
    rng = np.random.default_rng([seed, int(county_code)])
    n_hh = int(households)
    n_vil = max(1, round(n_hh / HOUSEHOLDS_PER_VILLAGE))
    n_town = max(min(3, n_vil), round(n_vil / VILLAGES_PER_TOWNSHIP))  # small test counties keep 3

    # --- regions: townships 1xx, villages 2xx under them (统计用区划代码 style, 12 digits) ---
    town_codes = [f"{county_code}{100 + i:03d}" for i in range(n_town)]
    townships = pl.DataFrame(
        {"code": town_codes, "name": _unique_place_names(rng, n_town, TOWNSHIP_SUFFIX)}
    )
    vil_town = _spread(rng, n_vil, n_town)
    vil_seq = (
        pl.DataFrame({"t": vil_town}).select(pl.int_range(pl.len()).over("t"))[:, 0].to_numpy()
    )
    villages = pl.DataFrame(
        {
            "code": [
                f"{town_codes[t]}{200 + s:03d}" for t, s in zip(vil_town, vil_seq, strict=True)
            ],
            "name": _unique_place_names(rng, n_vil, ["村"]),
            "township_code": [town_codes[t] for t in vil_town],
        }
    )

    # --- households ---------------------------------------------------------------------------
    hh_village = _spread(rng, n_hh, n_vil)
    size = rng.choice(np.arange(1, 9), size=n_hh, p=SIZE_P)
    types = np.array(list(TYPE_P))
    hh_type = rng.choice(types, size=n_hh, p=np.array(list(TYPE_P.values())))
    managed = (hh_type != "ordinary") | (rng.random(n_hh) < ORDINARY_MANAGED_SHARE)
    vil_codes = villages["code"].to_numpy()
    household_no = pl.select(
        pl.concat_str(
            pl.Series(vil_codes[hh_village]),
            pl.lit("-"),
            pl.Series(np.arange(n_hh) + 1).cast(pl.String).str.zfill(6),
        )
    ).to_series()
    bank = np.array(BANKS)[rng.integers(0, len(BANKS), size=n_hh)]
    account = pl.select(
        pl.lit("6217")
        + pl.Series(rng.integers(0, 10**15, size=n_hh, dtype=np.int64))
        .cast(pl.String)
        .str.zfill(15)
    ).to_series()
    hh = pl.DataFrame(
        {
            "household_no": household_no,
            "village_code": vil_codes[hh_village],
            "household_type": hh_type,
            "managed": managed,
            "size": size,
            "bank": np.where(managed, bank, ""),
            "bank_account": pl.select(
                pl.when(pl.Series(managed)).then(account).otherwise(pl.lit(""))
            ).to_series(),
        }
    )

    # --- people: relation by position in the household -------------------------------------
    n_people = int(size.sum())
    hh_idx = np.repeat(np.arange(n_hh), size)
    pos = np.arange(n_people) - np.repeat(np.cumsum(size) - size, size)
    head_age = rng.integers(24, 80, size=n_hh)
    head_male = rng.random(n_hh) < 0.82
    # position: 0 head, 1 spouse, 2.. children; in 5+ households the last is a parent of the head
    is_parent = (size[hh_idx] >= 5) & (pos == size[hh_idx] - 1)
    relation = np.where(pos == 0, "户主", np.where(pos == 1, "配偶", "子女"))
    relation = np.where(is_parent, np.where(rng.random(n_people) < 0.5, "父亲", "母亲"), relation)
    male = np.where(
        pos == 0,
        head_male[hh_idx],
        np.where(pos == 1, ~head_male[hh_idx], rng.random(n_people) < 0.52),
    )
    male = np.where(relation == "父亲", True, np.where(relation == "母亲", False, male))
    relation = np.where(relation == "子女", np.where(male, "子", "女"), relation)
    age = np.select(
        [pos == 0, pos == 1, is_parent],
        [
            head_age[hh_idx],
            head_age[hh_idx] + rng.integers(-5, 6, size=n_people),
            head_age[hh_idx] + rng.integers(22, 32, size=n_people),
        ],
        default=np.maximum(head_age[hh_idx] - rng.integers(20, 36, size=n_people), 0),
    )
    age = np.clip(age, 0, 99)
    # birth dates relative to the end of the last synthetic year (or ``as_of``)
    birth = np.datetime64(as_of.isoformat()) - (
        age * 365.25 + rng.integers(0, 365, size=n_people)
    ).astype("timedelta64[D]")
    surname = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), size=n_hh)]
    own_surname = np.array(SURNAMES)[rng.integers(0, len(SURNAMES), size=n_people)]
    same_line = np.isin(relation, ["户主", "子", "女", "父亲"])
    first = np.where(same_line, surname[hh_idx], own_surname)
    names = pl.Series(first) + _names(rng, n_people, GIVEN, (1, 2))

    people = pl.DataFrame(
        {
            "hh": hh_idx,
            "name": names,
            "relation": relation,
            "male": male,
            "birth_date": birth.astype("datetime64[D]"),
        }
    ).with_columns(pl.col("birth_date").cast(pl.Date))
    # ID number: county code + birth date + sequence (odd for men, unique per date) + check
    people = people.with_columns(
        (
            pl.int_range(pl.len()).over(["birth_date", "male"]) * 2 + pl.col("male").cast(pl.Int64)
        ).alias("seq")
    )
    if people["seq"].max() >= 1000:
        raise ValueError(
            "too many people born on one day for 3-digit sequence numbers; use fewer households"
        )
    first17 = (
        pl.lit(county_code)
        + pl.col("birth_date").dt.strftime("%Y%m%d")
        + pl.col("seq").cast(pl.String).str.zfill(3)
    )
    people = people.with_columns(first17.alias("first17"))
    checks = _check_chars(people["first17"].to_numpy())
    # labour capacity (劳动能力) by age: children and the very old cannot work; some adults are weak
    labour = np.select(
        [(age < 16) | (age >= 75), (age >= 60) | (rng.random(n_people) < 0.08)],
        ["none", "weak"],
        default="able",
    )
    people = people.with_columns(
        (pl.col("first17") + pl.Series(checks)).alias("id_number"),
        pl.Series("labour", labour),
        household_no.gather(hh_idx).alias("household_no"),
    ).select(
        "household_no",
        "name",
        "id_number",
        "relation",
        "labour",
        pl.when(pl.col("male")).then(pl.lit("M")).otherwise(pl.lit("F")).alias("sex"),
        "birth_date",
    )

    # --- incomes (yuan per household per year, integer fen) ---------------------------------
    per_capita_median = np.select(
        [hh_type == "unstable", hh_type == "marginal", hh_type == "sudden"],
        [6800.0, 6200.0, 5200.0],
        default=13500.0,
    )
    # a persistent random walk: each year is last year's income grown ~8%, with a small shock
    # (drawn independently per year, incomes would swing enough to fake 返贫/新致贫)
    scale = income_scale(county_code=county_code, first_year=years[0])
    level = per_capita_median * scale * np.exp(rng.normal(0, 0.35, size=n_hh)) * size
    rows = []
    for k, year in enumerate(years):  # three years, each a vector over all households
        if k:
            level = level * INCOME_GROWTH * np.exp(rng.normal(0, INCOME_SHOCK, size=n_hh))
        rows.append(
            pl.DataFrame(
                {
                    "household_no": household_no,
                    "year": np.full(n_hh, year, dtype=np.int64),
                    # integer fen from the start: synthetic incomes are drawn, then rounded once to whole yuan
                    "annual_income_fen": (np.round(level) * 100).astype(np.int64),
                }
            )
        )
    incomes = pl.concat(rows)
    return Population(county_code, townships, villages, hh, people, incomes)
