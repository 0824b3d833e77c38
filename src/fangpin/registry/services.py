"""Writes to the registry other than the file import (see ``importer``): the synthetic
bulk load, and registering one household (``household_register``) with the importer's checks."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from django.db import IntegrityError, transaction
from django.utils import timezone

from fangpin.accounts import permissions
from fangpin.common import clock
from fangpin.common.audit import Action, audit_record, audit_record_rows, audit_rows
from fangpin.common.bulk import bulk_insert, db_datetime
from fangpin.common.errors import DomainError
from fangpin.common.idnumber import birth_date, id_number_problem, normalize_id_number
from fangpin.regions.models import Level, Region

from .importer import (
    BANK_ACCOUNT,
    ERR_BANK_ACCOUNT,
    ERR_HOUSEHOLD_NO,
    ERR_HOUSEHOLD_TYPE,
    ERR_ID_ELSEWHERE,
    ERR_ID_OUTSIDE,
    ERR_LABOUR,
    ERR_REQUIRED,
    ERR_TOO_LONG,
    ERR_UNKNOWN_VILLAGE,
    ERR_VILLAGE_SCOPE,
    HOUSEHOLD_NO,
    LABOUR_ALIASES,
    TYPE_CHOICES,
    household_ids,
)
from .models import (
    HEAD_RELATIONS,
    HOUSEHOLD_TYPE_ALIASES,
    Household,
    HouseholdType,
    IncomeRecord,
    IncomeSource,
    Member,
)


@transaction.atomic
def household_bulk_load(
    *,
    households: pl.DataFrame,
    members: pl.DataFrame,
    incomes: pl.DataFrame,
    village_ids: dict[str, tuple[int, str]],
    actor: Any = None,
    source: str = "synth",
) -> int:
    """Insert new households with their members and incomes, set-based (``common.bulk``).

    ``households``: household_no, village_code, household_type, bank, bank_account;
    ``members``: household_no, name, id_number, relation, labour;
    ``incomes``: household_no, year, annual_income_fen;
    ``village_ids``: village code -> (region id, region path).
    For trusted, already-valid data (the synthetic generator, households a screening
    found in the roster); files go through the importer. One audit row per household.
    """
    if households.height == 0:
        return 0
    stamp = timezone.now()
    now = db_datetime(stamp)
    villages = pl.DataFrame(
        [(code, pk, path) for code, (pk, path) in village_ids.items()],
        schema={"village_code": pl.String, "village_id": pl.Int64, "region_path": pl.String},
        orient="row",
    )
    rows = households.join(villages, on="village_code", how="left")
    bulk_insert(
        Household,
        rows.select(
            "household_no",
            "village_id",
            "household_type",
            pl.col("bank").alias("bank_name"),
            "bank_account",
            pl.lit(now).alias("created_at"),
            pl.lit(now).alias("updated_at"),
        ),
    )
    pk = household_ids(households["household_no"].to_list()).drop("region_path")
    bulk_insert(
        Member,
        members.join(pk, on="household_no").select(
            "household_id", "name", "id_number", "relation", "labour"
        ),
    )
    actor_id = getattr(actor, "pk", None)
    bulk_insert(
        IncomeRecord,
        incomes.join(pk, on="household_no").select(
            "household_id",
            "year",
            pl.col("annual_income_fen").alias("annual_income"),
            pl.lit(IncomeSource.SURVEY.value).alias("source"),
            pl.lit(now).alias("recorded_at"),
            pl.lit(actor_id, dtype=pl.Int64).alias("recorded_by_id"),
            pl.lit(source).alias("note"),
        ),
    )
    audit_record_rows(
        audit_rows(
            rows.join(pk, on="household_no"),
            actor=actor,
            action=Action.HOUSEHOLD_CREATED,
            object_type="registry.household",
            object_id="household_id",
            region_path="region_path",
            data={"source": pl.lit(source)},
        ),
        at=stamp,
    )
    return households.height


# --- one household at a time (the intake form's 新登记户 section, the cases API) ---------------

ERR_HOUSEHOLD_EXISTS = "household number {household} is already registered (户编号已存在)"
ERR_SECOND_HEAD = (
    "a household has exactly one head (户主); give this member another relation (户主只能有一人)"
)
ERR_SEX = "sex must be M or F (男/女) (性别无效)"
ERR_SEX_MISMATCH = "sex does not match the ID number, which says {sex} (性别与身份证号不符)"
ERR_BIRTH_DATE = "birth date must be a date like 1980-01-31 (出生日期格式错误)"
ERR_BIRTH_MISMATCH = (
    "birth date does not match the ID number, which says {date} (出生日期与身份证号不符)"
)
ERR_DUPLICATE_MEMBER = (
    "ID number is given twice for this household, first for {first} (同一户身份证号重复)"
)
ERR_NOT_A_VILLAGE = "choose a village (请选择村)"

SEX_ALIASES = {"m": "M", "male": "M", "男": "M", "f": "F", "female": "F", "女": "F"}
HEAD_RELATION = "户主"
HOUSEHOLD_NO_PATTERN = re.compile(HOUSEHOLD_NO)
BANK_ACCOUNT_PATTERN = re.compile(BANK_ACCOUNT)


@dataclass(frozen=True)
class MemberIn:
    """One member as a form or the API gives it. Sex and birth date are not stored — the ID
    number holds both (GB 11643) — but when given they must agree with it."""

    name: str
    id_number: str
    relation: str = ""
    labour: str = ""
    sex: str = ""
    birth_date: dt.date | str | None = None


@dataclass(frozen=True)
class FieldProblem:
    field: str  # e.g. "village", "head.id_number", "members[2].relation"
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class RegistryError(DomainError):
    """Every problem of one registration, each naming its field; nothing was written."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__(
            "; ".join(str(p) for p in problems), field=problems[0].field if problems else ""
        )


def _sex_of(id_number: str) -> str:
    return "M" if int(id_number[16]) % 2 else "F"


def _member_problems(
    prefix: str, m: MemberIn, *, is_head: bool, today: dt.date
) -> tuple[list[FieldProblem], dict[str, str]]:
    """The importer's checks on one member, and the cleaned values."""
    out: list[FieldProblem] = []

    def add(name: str, message: str) -> None:
        out.append(FieldProblem(f"{prefix}.{name}", message))

    name = (m.name or "").strip()
    relation = HEAD_RELATION if is_head else (m.relation or "").strip()
    id_number = normalize_id_number(m.id_number or "")
    labour_raw = (m.labour or "").strip().lower()
    labour = LABOUR_ALIASES.get(labour_raw, "") if labour_raw else ""
    if not name:
        add("name", ERR_REQUIRED)
    elif len(name) > 64:
        add("name", ERR_TOO_LONG.format(n=64))
    if not relation:
        add("relation", ERR_REQUIRED)
    elif len(relation) > 16:
        add("relation", ERR_TOO_LONG.format(n=16))
    elif not is_head and relation in HEAD_RELATIONS:
        add("relation", ERR_SECOND_HEAD)
    if labour_raw and not labour:
        add("labour", ERR_LABOUR)
    problem = id_number_problem(id_number, today=today) if id_number else ERR_REQUIRED
    if problem:
        add("id_number", problem)
    sex_raw = (m.sex or "").strip().lower()
    if sex_raw:
        sex = SEX_ALIASES.get(sex_raw)
        if sex is None:
            add("sex", ERR_SEX)
        elif not problem and sex != _sex_of(id_number):
            add("sex", ERR_SEX_MISMATCH.format(sex="M 男" if _sex_of(id_number) == "M" else "F 女"))
    if m.birth_date not in (None, ""):
        born = m.birth_date
        if isinstance(born, str):
            try:
                born = dt.date.fromisoformat(born.strip())
            except ValueError:
                born = None
        if not isinstance(born, dt.date):
            add("birth_date", ERR_BIRTH_DATE)
        elif not problem and born != birth_date(id_number):
            add("birth_date", ERR_BIRTH_MISMATCH.format(date=birth_date(id_number).isoformat()))
    return out, {"name": name, "relation": relation, "id_number": id_number, "labour": labour}


def _village_of(village: Any) -> Region | None:
    if isinstance(village, Region):
        return village if village.level == Level.VILLAGE else None
    code = str(village or "").strip()
    return Region.objects.filter(code=code, level=Level.VILLAGE).first() if code else None


def _next_household_no(village: Region) -> str:
    """``<village code>-R<n>``: R for registered at intake, n the next free number there."""
    prefix = f"{village.code}-R"
    taken = Household.objects.filter(household_no__startswith=prefix).count()
    n = taken + 1
    while Household.objects.filter(household_no=f"{prefix}{n:04d}").exists():
        n += 1
    return f"{prefix}{n:04d}"


@transaction.atomic
def _id_elsewhere(actor: Any, household_no: str, village_path: str) -> str:
    """The "already registered" message, naming the household only where the actor may see it."""
    if actor is None or permissions.may_see_path(actor, village_path):
        return ERR_ID_ELSEWHERE.format(household=household_no)
    return ERR_ID_OUTSIDE


def household_register(
    *,
    actor: Any,
    village: Region | str,
    head: MemberIn,
    members: Sequence[MemberIn] = (),
    household_no: str = "",
    household_type: str = HouseholdType.ORDINARY,
    bank: str = "",
    bank_account: str = "",
    source: str = "intake",
) -> Household:
    """Register one household not yet in the registry, with its head and members.

    Checked as the registry import checks a file (``importer``): the village exists and
    lies in the actor's region, the household type, every ID number (length, digits,
    province, birth date, check digit), no ID number twice and none already registered in
    another household, exactly one head, labour capacity, the bank account. Every problem
    is reported at once (``RegistryError``, each naming its field) and nothing is written;
    otherwise the household, its members and an audit row are written in one transaction
    (the caller's, when a case is opened with it).
    """
    permissions.require(actor, "registry.register")
    today = clock.today()
    problems: list[FieldProblem] = []

    def add(name: str, message: str) -> None:
        problems.append(FieldProblem(name, message))

    region = _village_of(village)
    if region is None:
        add("village", ERR_UNKNOWN_VILLAGE if str(village or "").strip() else ERR_NOT_A_VILLAGE)
    elif not permissions.may_see_path(actor, region.path):
        add("village", ERR_VILLAGE_SCOPE)
    kind = str(household_type or HouseholdType.ORDINARY).strip()
    kind = HOUSEHOLD_TYPE_ALIASES.get(kind, kind.lower())
    if kind not in HouseholdType.values:
        add("household_type", ERR_HOUSEHOLD_TYPE.format(choices=TYPE_CHOICES))
    number = (household_no or "").strip()
    if number and not HOUSEHOLD_NO_PATTERN.match(number):
        add("household_no", ERR_HOUSEHOLD_NO)
    elif number and Household.objects.filter(household_no=number).exists():
        add("household_no", ERR_HOUSEHOLD_EXISTS.format(household=number))
    bank, bank_account = (bank or "").strip(), (bank_account or "").strip()
    if len(bank) > 64:
        add("bank", ERR_TOO_LONG.format(n=64))
    if bank_account and not BANK_ACCOUNT_PATTERN.match(bank_account):
        add("bank_account", ERR_BANK_ACCOUNT)

    people: list[tuple[str, dict[str, str]]] = []
    for prefix, m, is_head in [("head", head, True)] + [
        (f"members[{i}]", m, False) for i, m in enumerate(members, start=1)
    ]:
        found, clean = _member_problems(prefix, m, is_head=is_head, today=today)
        problems += found
        people.append((prefix, clean))
    first_for: dict[str, str] = {}
    for prefix, clean in people:
        idn = clean["id_number"]
        if not idn:
            continue
        if idn in first_for:
            add(f"{prefix}.id_number", ERR_DUPLICATE_MEMBER.format(first=first_for[idn]))
        else:
            first_for[idn] = prefix
    held = Member.objects.filter(id_number__in=list(first_for)).values_list(
        "id_number", "household__household_no", "household__village__path"
    )
    for idn, household, path in held:
        add(f"{first_for[idn]}.id_number", _id_elsewhere(actor, household, path))
    if problems:
        raise RegistryError(problems)

    created = Household(
        household_no=number or _next_household_no(region),
        village=region,
        household_type=kind,
        bank_name=bank,
        bank_account=bank_account,
    )
    created.full_clean()
    rows = [Member(household=created, **clean) for _, clean in people]
    try:
        with transaction.atomic():  # a concurrent registration of the same number or ID loses
            created.save()
            for row in rows:
                row.household = created
                row.full_clean(exclude=["household"], validate_unique=False)
            Member.objects.bulk_create(rows)
    except IntegrityError:
        again = Member.objects.filter(id_number__in=list(first_for)).first()
        if again is not None:
            raise RegistryError(
                [
                    FieldProblem(
                        f"{first_for[again.id_number]}.id_number",
                        _id_elsewhere(
                            actor, again.household.household_no, again.household.village.path
                        ),
                    )
                ]
            ) from None
        raise RegistryError(
            [
                FieldProblem(
                    "household_no", ERR_HOUSEHOLD_EXISTS.format(household=created.household_no)
                )
            ]
        ) from None
    audit_record(
        actor=actor,
        action=Action.HOUSEHOLD_CREATED,
        obj=created,
        region_path=region.path,
        data={"household_no": created.household_no, "members": len(rows), "source": source},
    )
    return created


def household_search_audit(*, user: Any, q: str, via: str) -> None:
    """A search by a full ID number reveals whether that person is in the registry: it is
    written to the audit trail (the number masked), whether it matched or not."""
    from fangpin.common.idnumber import mask_if_id_number, normalize_id_number

    number = normalize_id_number(q or "")
    if len(number) != 18 or not number[:17].isdigit():
        return
    region = getattr(user, "region", None)
    audit_record(
        actor=user,
        action=Action.HOUSEHOLD_SEARCHED_BY_ID_NUMBER,
        object_type="registry.household",
        region_path=region.path if region is not None else "",
        data={"q": mask_if_id_number(number), "via": via},
    )
