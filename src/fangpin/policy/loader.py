"""Load the dated parameter tree: the city's YAML files plus county overrides.

Policy as data (STYLE.md, *OpenFisca*; POLICY.md: "Every number here is a
parameter: a county office must be able to change it, with an effective date,
without a code change").

Layout under a root directory (the shipped one is ``policy/parameters/``)::

    city/<group>/<file>.yaml      the city's tree; directories and files are groups,
                                  a mapping with ``values`` is a parameter (a leaf)
    counties/<code>.yaml          optional overrides for one county (6-digit code)

A leaf::

    start_line:
      description: Start line (起付线) ...
      type: amount                # amount | rate | ladder | choice | flag | count
      unit: CNY/household/year
      keyed_by: household_type    # optional: one value per household type
      metadata: {source: stated, reference: "..."}
      values:
        2017-01-01: {value: {unstable: 5000, marginal: 20000, sudden: 20000, ordinary: 20000}}
        2021-01-01:
          value: {unstable: 5000, marginal: 15000, sudden: 15000, ordinary: 15000}
          source: stated
          reference: "the document that set it"

Each dated value carries its own source mark (POLICY.md's S / I / A) and
reference, because values of one parameter come from different documents: the
leaf's ``metadata`` (source, reference) describes the leaf's *first* dated value
only, and every later dated value must name its own ``source`` and
``reference`` — a value without them is refused rather than cited under a mark
that was written for another value. The first value takes its marks from the
metadata alone (writing them on the entry too is refused: one place, one mark).
The same holds in a county override: its ``metadata`` describes its first dated
value, each later one carries its own. An ``{inherit: city}`` entry needs no
mark: the value in force is then the city's, cited with the city's marks.

The value in force on a date is the latest one dated on or before it. A county
override lists its own dated values for a city parameter; from its first date
on, the county's latest value governs (a later city change does not reach a
county that has its own value until the county adds ``{inherit: city}``).

Kinds: ``amount`` (yuan, to the fen), ``rate`` (0–1), ``ladder`` (thresholds and
rates), ``choice`` (one of the leaf's ``choices``), ``flag`` (true/false) and
``count`` — a whole number that is not money (days, visits, months, years of
age), 0 to ``spec.MAX_COUNT``, read as ``int``; a count the application reads
(``spec.COUNT_VALUES``) is held to the values that path may take.

Outside the relief engine, read one parameter with ``parameter_value(path,
on=..., county=...)`` (the county's value where it has its own, else the
city's; ``county=None`` reads the city's).

Numbers are read as ``Decimal`` straight from the YAML text: a rate written
``0.6`` never passes through a float. A malformed tree fails at load time with
``ParameterError``, naming the file, the parameter path and what is wrong.
"""

from __future__ import annotations

import bisect
import datetime
import functools
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from fangpin.policy import spec

DEFAULT_ROOT = Path(__file__).resolve().parent / "parameters"
ROOT_ENV = "FANGPIN_POLICY_PARAMETERS"
CITY = "city"

# Error messages (tests assert on these).
ERR_YAML = "not valid YAML: {problem}"
ERR_DUPLICATE_KEY = "duplicate key {key!r} (line {line})"
ERR_NOT_A_MAPPING = "expected a mapping of parameters, got {got}"
ERR_BAD_NAME = "name {name!r} must be lower_snake_case"
ERR_MISSING_FIELD = "missing field {field!r}"
ERR_UNKNOWN_FIELD = "unknown field {field!r}; expected one of {expected}"
ERR_EMPTY_TEXT = "field {field!r} must be a non-empty text"
ERR_UNKNOWN_KIND = "unknown type {kind!r}; expected one of {expected}"
ERR_UNKNOWN_SOURCE = "source mark {source!r} must be one of stated, inferred, assumed"
ERR_KEYED_BY = (
    "keyed_by {keyed_by!r} is not supported; only 'household_type' (for amounts and rates)"
)
ERR_CHOICES = "a choice needs 'choices', a non-empty list of names"
ERR_NO_VALUES = "'values' must map effective dates to {{value: ...}}; it is empty or not a mapping"
ERR_BAD_DATE = "effective date {key!r} is not a date (write YYYY-MM-DD)"
ERR_ENTRY = "the entry for {date} must be a mapping with 'value' (e.g. {{value: 20000}})"
ERR_MISSING_VALUE = "the entry for {date} has no 'value'"
ERR_LATER_MARK = (
    "missing field {field!r}: a value dated after the first ({first}) carries its own source "
    "mark and reference; the metadata describes only the first value"
)
ERR_FIRST_MARK = (
    "field {field!r} of the first dated value belongs in the leaf's metadata, which describes "
    "that value"
)
ERR_INHERIT_IN_CITY = "'inherit' is only allowed in a county override"
ERR_INHERIT_VALUE = "'inherit' must be 'city'"
ERR_NOT_A_NUMBER = "{what} {value!r} is not a number"
ERR_NOT_FINITE = "{what} {value!r} is not a finite number"
ERR_NEGATIVE = "{what} {value} is negative"
ERR_TOO_LARGE = "{what} {value} is above the largest amount allowed ({max})"
ERR_FEN = "{what} {value} has more than two decimal places (amounts are to the fen)"
ERR_RATE_RANGE = "rate {value} is outside 0–1"
ERR_RATE_PLACES = "rate {value} has more than {places} decimal places"
ERR_COUNT_WHOLE = "count {value} is not a whole number (write it without decimals)"
ERR_COUNT_RANGE = "count {value} is outside 0–{max}"
ERR_COUNT_VALUES = "{value} is not allowed here; expected {allowed}"
ERR_ORDER = "{lower} is {lower_value} but {upper} is {upper_value}; it cannot be above it"
ERR_LADDER_EMPTY = "a ladder must be a non-empty list of {{threshold, rate}}"
ERR_LADDER_STEP = "bracket {index} must be a mapping with exactly 'threshold' and 'rate'"
ERR_LADDER_START = "the first threshold must be 0, got {value}"
ERR_UNSORTED_THRESHOLDS = "thresholds must strictly increase; got {thresholds}"
ERR_UNKNOWN_HOUSEHOLD_TYPE = (
    "unknown household type {key!r}; expected one of unstable, marginal, sudden, ordinary"
)
ERR_MISSING_HOUSEHOLD_TYPE = "no value for household type {key!r}"
ERR_KEYED_NOT_MAPPING = "a value keyed by household type must map each household type to a value"
ERR_CHOICE = "{value!r} is not one of {choices}"
ERR_FLAG = "{value!r} is not true or false"
ERR_DUPLICATE_PATH = "parameter defined twice (also in {other})"
ERR_REQUIRED_MISSING = "the engine needs this parameter; it is missing from the city tree"
ERR_REQUIRED_SHAPE = "the engine needs a {kind}{keyed}{choices} here"
ERR_COUNTY_FILE = "county override files are named <6-digit code>.yaml"
ERR_COUNTY_MISMATCH = "'county' is {value!r} but the file is for {code}"
ERR_UNKNOWN_COUNTY = "unknown county code {code}"
ERR_UNKNOWN_PATH = "no such parameter in the city tree"
ERR_NO_CITY_TREE = "no city tree (expected YAML files under {path})"

# Errors raised when reading values in force (PolicyInputError, field "date" / "county").
ERR_BEFORE_POLICY = "date {on} is before the policy existed (政策尚未实施; in force from {start})"
ERR_COUNTY_NOT_KNOWN = "unknown county code {code!r} (未知县级行政区划代码)"
ERR_NOT_IN_FORCE = "parameter {path} has no value in force on {on}"

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_COUNTY_CODE = re.compile(r"^\d{6}$")
_LEAF_FIELDS = ("description", "type", "unit", "keyed_by", "choices", "metadata", "values")
_OVERRIDE_FIELDS = ("description", "metadata", "values")
_ENTRY_FIELDS = ("value", "inherit", "source", "reference", "note")
_GROUP_FIELDS = ("description", "metadata")


class ParameterError(ValueError):
    """A malformed parameter tree: which file, which parameter path, what is wrong."""

    def __init__(self, file: str, path: str, message: str) -> None:
        self.file = file
        self.path = path
        self.message = message
        super().__init__(f"{file}: {path or '(top)'}: {message}")


class PolicyInputError(ValueError):
    """A case the policy cannot evaluate; ``field`` names the input that is wrong."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class Bracket:
    """One step of a ladder: ``rate`` applies to the slice from ``threshold`` up to the next one."""

    threshold: Decimal
    rate: Decimal


Ladder = tuple[Bracket, ...]


@dataclass(frozen=True, slots=True)
class DatedValue:
    """One dated entry of a parameter's history."""

    effective: datetime.date
    value: Any  # Decimal | str | bool | Ladder | dict[str, Decimal]; None when inherit
    source: str
    reference: str
    origin: str  # "city" or the county code whose file set it
    file: str
    note: str = ""
    inherit: bool = False


@dataclass(frozen=True, slots=True)
class Leaf:
    """A parameter: what it is, where it comes from, and its dated values (sorted)."""

    path: str
    kind: str
    description: str
    unit: str
    source: str
    reference: str
    file: str
    values: tuple[DatedValue, ...]
    keyed_by: str | None = None
    choices: tuple[str, ...] | None = None

    def value_on(self, on: datetime.date) -> DatedValue | None:
        """The latest entry dated on or before ``on`` (None before the first)."""
        index = bisect.bisect_right([v.effective for v in self.values], on) - 1
        return self.values[index] if index >= 0 else None


@dataclass(frozen=True, slots=True)
class Reading:
    """A parameter value as read on a date for a county: what the explanation cites."""

    path: str
    kind: str
    description: str
    unit: str
    effective: datetime.date
    value: Any
    source: str
    reference: str
    origin: str


@dataclass(frozen=True, slots=True)
class InForce:
    """Every parameter in force over one period for one county (or the city)."""

    key: str  # "city" or a county code with overrides
    valid_from: datetime.date
    valid_to: datetime.date | None  # exclusive; None = open-ended
    readings: Mapping[str, Reading]
    version: str

    def value(self, path: str) -> Any:
        return self.readings[path].value

    def reading(self, path: str) -> Reading:
        return self.readings[path]


def canonical(value: Any) -> Any:
    """A JSON-able, stable form of a parameter value (for hashing and display)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    if isinstance(value, tuple) and value and isinstance(value[0], Bracket):
        return [{"threshold": canonical(b.threshold), "rate": canonical(b.rate)} for b in value]
    if isinstance(value, Mapping):
        return {k: canonical(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------- the set


@dataclass
class ParameterSet:
    """The city's parameters and the counties' overrides, validated.

    ``in_force(county, on)`` gives every value in force for a county on a date;
    periods are precomputed so a lookup is a bisect and a dictionary hit.
    """

    leaves: dict[str, Leaf]
    overrides: dict[str, dict[str, Leaf]]
    counties: frozenset[str] | None = None
    _starts: dict[str, list[datetime.date]] = field(default_factory=dict, repr=False)
    _cache: dict[tuple[str, int], InForce] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for key in (CITY, *self.overrides):
            self._starts[key] = self._period_starts(key)

    def __repr__(self) -> str:
        return (
            f"ParameterSet({len(self.leaves)} parameters, county overrides "
            f"{sorted(self.overrides)}, fingerprint {self.fingerprint})"
        )

    # -- lookups ----------------------------------------------------------
    def county_key(self, county: str) -> str:
        """The override key for a county: its code if it has overrides, else the city's."""
        if self.counties is not None and county not in self.counties:
            raise PolicyInputError("county", ERR_COUNTY_NOT_KNOWN.format(code=county))
        if not _COUNTY_CODE.match(county):
            raise PolicyInputError("county", ERR_COUNTY_NOT_KNOWN.format(code=county))
        return county if county in self.overrides else CITY

    def resolve(self, path: str, key: str, on: datetime.date) -> DatedValue | None:
        """The dated entry in force for ``path`` on ``on`` under override key ``key``."""
        county_leaf = self.overrides.get(key, {}).get(path)
        if county_leaf is not None:
            entry = county_leaf.value_on(on)
            if entry is not None and not entry.inherit:
                return entry
        return self.leaves[path].value_on(on)

    def policy_start(self, county: str | None = None) -> datetime.date:
        """The first date on which every parameter the engine needs has a value."""
        key = CITY if county is None else self.county_key(county)
        return self._starts[key][0]

    def periods(
        self, county: str | None = None
    ) -> list[tuple[datetime.date, datetime.date | None]]:
        """The periods over which the county's parameters are constant: [(from, to_exclusive)]."""
        key = CITY if county is None else self.county_key(county)
        starts = self._starts[key]
        return list(zip(starts, [*starts[1:], None], strict=True))

    def in_force(self, county: str, on: datetime.date) -> InForce:
        """Every parameter value in force for ``county`` on ``on``.

        Raises ``PolicyInputError`` (field ``county``) for an unknown county and
        (field ``date``) for a date before the policy existed.
        """
        key = self.county_key(county)
        starts = self._starts[key]
        index = bisect.bisect_right(starts, on) - 1
        if index < 0:
            raise PolicyInputError(
                "date", ERR_BEFORE_POLICY.format(on=on.isoformat(), start=starts[0].isoformat())
            )
        cached = self._cache.get((key, index))
        if cached is None:
            cached = self._build_in_force(key, index)
            self._cache[(key, index)] = cached
        return cached

    def read(self, path: str, *, on: datetime.date, county: str | None = None) -> Reading:
        """One parameter as in force on ``on``: the county's value where the county has its
        own, else the city's; ``county=None`` reads the city's (where no county is at hand).

        Unlike ``in_force`` it reads any parameter on any day it has a value, not only
        within the relief policy's periods. Raises ``PolicyInputError`` (field
        ``county``) for an unknown county and (field ``date``) when the parameter has
        no value yet on ``on``; ``KeyError`` for a path that is not in the tree.
        """
        leaf = self.leaves[path]
        entry = self.resolve(path, CITY if county is None else self.county_key(county), on)
        if entry is None:
            raise PolicyInputError("date", ERR_NOT_IN_FORCE.format(path=path, on=on.isoformat()))
        return Reading(
            path=path,
            kind=leaf.kind,
            description=leaf.description,
            unit=leaf.unit,
            effective=entry.effective,
            value=entry.value,
            source=entry.source,
            reference=entry.reference,
            origin=entry.origin,
        )

    def value(self, path: str, *, on: datetime.date, county: str | None = None) -> Any:
        """The value of one parameter in force on ``on`` (see ``read``)."""
        return self.read(path, on=on, county=county).value

    def history(self, path: str, county: str | None = None) -> list[DatedValue]:
        """The city's dated values of ``path`` followed by the county's own, by date."""
        entries = list(self.leaves[path].values)
        if county is not None:
            key = self.county_key(county)
            if path in self.overrides.get(key, {}):
                entries.extend(self.overrides[key][path].values)
        return sorted(entries, key=lambda e: (e.effective, e.origin != CITY))

    def keys(self) -> list[str]:
        """Override keys that have their own parameters: ``city`` and each overriding county."""
        return [CITY, *sorted(self.overrides)]

    @functools.cached_property
    def fingerprint(self) -> str:
        """A stable hash of the whole set (city tree and overrides), values only."""
        payload = {
            "city": {p: _history_canonical(leaf) for p, leaf in sorted(self.leaves.items())},
            "counties": {
                code: {p: _history_canonical(leaf) for p, leaf in sorted(paths.items())}
                for code, paths in sorted(self.overrides.items())
            },
        }
        return _hash(payload)

    # -- internals ---------------------------------------------------------
    def _period_starts(self, key: str) -> list[datetime.date]:
        dates = {v.effective for leaf in self.leaves.values() for v in leaf.values}
        dates |= {v.effective for leaf in self.overrides.get(key, {}).values() for v in leaf.values}
        ordered = sorted(dates)
        for index, on in enumerate(ordered):
            if all(self.resolve(path, key, on) is not None for path in spec.REQUIRED_LEAVES):
                return ordered[index:]
        # Cannot happen for a validated tree: every required leaf has at least one value.
        raise AssertionError("no date on which every required parameter has a value")

    def _build_in_force(self, key: str, index: int) -> InForce:
        starts = self._starts[key]
        on = starts[index]
        readings: dict[str, Reading] = {}
        for path, leaf in self.leaves.items():
            entry = self.resolve(path, key, on)
            if entry is None:
                continue  # an optional parameter not yet in force
            readings[path] = Reading(
                path=path,
                kind=leaf.kind,
                description=leaf.description,
                unit=leaf.unit,
                effective=entry.effective,
                value=entry.value,
                source=entry.source,
                reference=entry.reference,
                origin=entry.origin,
            )
        version = _hash(
            [
                [r.path, r.effective.isoformat(), canonical(r.value), r.origin]
                for r in sorted(readings.values(), key=lambda r: r.path)
            ]
        )
        valid_to = starts[index + 1] if index + 1 < len(starts) else None
        return InForce(
            key=key, valid_from=on, valid_to=valid_to, readings=readings, version=version
        )


def _history_canonical(leaf: Leaf) -> list[Any]:
    return [
        [v.effective.isoformat(), "inherit" if v.inherit else canonical(v.value)]
        for v in leaf.values
    ]


def _hash(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# --------------------------------------------------------------------------- YAML


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads numbers as Decimal and refuses duplicate keys."""


def _construct_decimal(loader: _Loader, node: yaml.ScalarNode) -> Decimal:
    text = loader.construct_scalar(node).replace("_", "")
    try:
        return Decimal(text)
    except InvalidOperation:  # .inf / .nan spellings
        return Decimal("NaN")


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> Decimal:
    return Decimal(yaml.SafeLoader.construct_yaml_int(loader, node))


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise _DuplicateKey(
                ERR_DUPLICATE_KEY.format(key=str(key), line=key_node.start_mark.line + 1)
            )
        result[key] = loader.construct_object(value_node, deep=True)
    return result


class _DuplicateKey(Exception):
    pass


def _construct_timestamp(loader: _Loader, node: yaml.ScalarNode) -> Any:
    """A date as YAML reads it; an impossible one (2018-13-01) stays text for a clear error."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def read_yaml(path: Path, label: str | None = None) -> Any:
    """Read one YAML file with Decimal numbers; errors name the file."""
    label = label or str(path)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 — SafeLoader subclass
    except _DuplicateKey as exc:
        raise ParameterError(label, "", str(exc)) from None
    except yaml.YAMLError as exc:
        raise ParameterError(label, "", ERR_YAML.format(problem=exc)) from None


# --------------------------------------------------------------------------- validation


def _text(value: Any, file: str, path: str, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ParameterError(file, path, ERR_EMPTY_TEXT.format(field=name))
    return value.strip()


def _number(value: Any, file: str, path: str, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        raise ParameterError(file, path, ERR_NOT_A_NUMBER.format(what=what, value=value))
    try:
        number = Decimal(value) if not isinstance(value, str) else Decimal(value.strip())
    except InvalidOperation:
        raise ParameterError(file, path, ERR_NOT_A_NUMBER.format(what=what, value=value)) from None
    if not number.is_finite():
        raise ParameterError(file, path, ERR_NOT_FINITE.format(what=what, value=value))
    return number


def _amount(value: Any, file: str, path: str, what: str = "amount") -> Decimal:
    number = _number(value, file, path, what)
    if number < 0:
        raise ParameterError(file, path, ERR_NEGATIVE.format(what=what, value=number))
    if number > spec.MAX_AMOUNT:
        raise ParameterError(
            file, path, ERR_TOO_LARGE.format(what=what, value=number, max=spec.MAX_AMOUNT)
        )
    if number != number.quantize(Decimal("0.01")):
        raise ParameterError(file, path, ERR_FEN.format(what=what, value=number))
    return number


def _rate(value: Any, file: str, path: str) -> Decimal:
    number = _number(value, file, path, "rate")
    if number < 0 or number > 1:
        raise ParameterError(file, path, ERR_RATE_RANGE.format(value=number))
    if number != number.quantize(Decimal(1).scaleb(-spec.RATE_PLACES)):
        raise ParameterError(
            file, path, ERR_RATE_PLACES.format(value=number, places=spec.RATE_PLACES)
        )
    return number


def _ladder(value: Any, file: str, path: str) -> Ladder:
    if not isinstance(value, list) or not value:
        raise ParameterError(file, path, ERR_LADDER_EMPTY)
    steps: list[Bracket] = []
    for index, step in enumerate(value, start=1):
        if not isinstance(step, Mapping) or set(step) != {"threshold", "rate"}:
            raise ParameterError(file, path, ERR_LADDER_STEP.format(index=index))
        where = f"{path} bracket {index}"
        steps.append(
            Bracket(
                threshold=_amount(step["threshold"], file, where, "threshold"),
                rate=_rate(step["rate"], file, where),
            )
        )
    if steps[0].threshold != 0:
        raise ParameterError(file, path, ERR_LADDER_START.format(value=steps[0].threshold))
    thresholds = [s.threshold for s in steps]
    if any(b <= a for a, b in zip(thresholds, thresholds[1:], strict=False)):
        shown = ", ".join(format(t, "f") for t in thresholds)
        raise ParameterError(file, path, ERR_UNSORTED_THRESHOLDS.format(thresholds=shown))
    return tuple(steps)


def _describe_allowed(allowed: range | tuple[int, ...]) -> str:
    if isinstance(allowed, range):
        return f"a whole number from {allowed.start} to {allowed.stop - 1}"
    return "one of " + ", ".join(str(n) for n in allowed)


def _count(value: Any, file: str, path: str, allowed: range | tuple[int, ...] | None = None) -> int:
    number = _number(value, file, path, "count")
    if number.as_tuple().exponent < 0:  # 5.5, and 5.0 too: a count is written whole
        raise ParameterError(file, path, ERR_COUNT_WHOLE.format(value=value))
    if number < 0 or number > spec.MAX_COUNT:
        raise ParameterError(file, path, ERR_COUNT_RANGE.format(value=number, max=spec.MAX_COUNT))
    count = int(number)
    if allowed is not None and count not in allowed:
        raise ParameterError(
            file, path, ERR_COUNT_VALUES.format(value=count, allowed=_describe_allowed(allowed))
        )
    return count


def _scalar_value(
    kind: str,
    choices: tuple[str, ...] | None,
    value: Any,
    file: str,
    path: str,
    allowed: range | tuple[int, ...] | None = None,
) -> Any:
    if kind == spec.KIND_COUNT:
        return _count(value, file, path, allowed)
    if kind == spec.KIND_AMOUNT:
        return _amount(value, file, path)
    if kind == spec.KIND_RATE:
        return _rate(value, file, path)
    if kind == spec.KIND_LADDER:
        return _ladder(value, file, path)
    if kind == spec.KIND_CHOICE:
        if not isinstance(value, str) or choices is None or value not in choices:
            raise ParameterError(
                file, path, ERR_CHOICE.format(value=value, choices=", ".join(choices or ()))
            )
        return value
    if kind == spec.KIND_FLAG:
        if not isinstance(value, bool):
            raise ParameterError(file, path, ERR_FLAG.format(value=value))
        return value
    raise AssertionError(kind)  # kinds are validated before values


def _value(
    kind: str,
    keyed_by: str | None,
    choices: tuple[str, ...] | None,
    value: Any,
    file: str,
    path: str,
    allowed: range | tuple[int, ...] | None = None,
) -> Any:
    if keyed_by is None:
        return _scalar_value(kind, choices, value, file, path, allowed)
    if not isinstance(value, Mapping):
        raise ParameterError(file, path, ERR_KEYED_NOT_MAPPING)
    for key in value:
        if key not in spec.HOUSEHOLD_TYPES:
            raise ParameterError(file, path, ERR_UNKNOWN_HOUSEHOLD_TYPE.format(key=key))
    for key in spec.HOUSEHOLD_TYPES:
        if key not in value:
            raise ParameterError(file, path, ERR_MISSING_HOUSEHOLD_TYPE.format(key=key))
    return {
        key: _scalar_value(kind, choices, value[key], file, f"{path} [{key}]")
        for key in spec.HOUSEHOLD_TYPES
    }


def _fields(mapping: Mapping[str, Any], allowed: tuple[str, ...], file: str, path: str) -> None:
    for name in mapping:
        if name not in allowed:
            raise ParameterError(
                file, path, ERR_UNKNOWN_FIELD.format(field=name, expected=", ".join(allowed))
            )


def _metadata(raw: Any, file: str, path: str) -> tuple[str, str]:
    if not isinstance(raw, Mapping):
        raise ParameterError(file, path, ERR_MISSING_FIELD.format(field="metadata"))
    if "reference" not in raw:
        raise ParameterError(file, path, ERR_MISSING_FIELD.format(field="metadata.reference"))
    if "source" not in raw:
        raise ParameterError(file, path, ERR_MISSING_FIELD.format(field="metadata.source"))
    reference = _text(raw["reference"], file, path, "metadata.reference")
    source = raw["source"]
    if source not in spec.SOURCE_MARKS:
        raise ParameterError(file, path, ERR_UNKNOWN_SOURCE.format(source=source))
    return source, reference


def _effective(key: Any, file: str, path: str) -> datetime.date:
    if isinstance(key, datetime.datetime):
        raise ParameterError(file, path, ERR_BAD_DATE.format(key=str(key)))
    if isinstance(key, datetime.date):
        return key
    try:
        return datetime.date.fromisoformat(str(key))
    except ValueError:
        raise ParameterError(file, path, ERR_BAD_DATE.format(key=str(key))) from None


def _dated_values(
    raw: Any,
    *,
    kind: str,
    keyed_by: str | None,
    choices: tuple[str, ...] | None,
    source: str,
    reference: str,
    origin: str,
    file: str,
    path: str,
) -> tuple[DatedValue, ...]:
    """The dated entries of a leaf (or of a county's override of it), sorted by date.

    ``source`` and ``reference`` are the metadata's: they describe the first dated
    value. Every later value must carry its own (``ERR_LATER_MARK``); an
    ``{inherit: city}`` entry needs none (it is cited with the city's marks).
    """
    if not isinstance(raw, Mapping) or not raw:
        raise ParameterError(file, path, ERR_NO_VALUES)
    allowed = spec.COUNT_VALUES.get(path) if kind == spec.KIND_COUNT else None
    dated = sorted(
        ((_effective(key, file, path), entry) for key, entry in raw.items()), key=lambda t: t[0]
    )
    first = dated[0][0]
    entries: list[DatedValue] = []
    for on, entry in dated:
        where = f"{path} @ {on.isoformat()}"
        if not isinstance(entry, Mapping):
            raise ParameterError(file, where, ERR_ENTRY.format(date=on.isoformat()))
        _fields(entry, _ENTRY_FIELDS, file, where)
        note = _text(entry["note"], file, where, "note") if "note" in entry else ""
        if "inherit" in entry:
            if origin == CITY:
                raise ParameterError(file, where, ERR_INHERIT_IN_CITY)
            if entry["inherit"] != CITY or "value" in entry:
                raise ParameterError(file, where, ERR_INHERIT_VALUE)
            value, inherit = None, True
        elif "value" not in entry:
            raise ParameterError(file, where, ERR_MISSING_VALUE.format(date=on.isoformat()))
        else:
            value = _value(kind, keyed_by, choices, entry["value"], file, where, allowed)
            inherit = False
        entry_source, entry_reference = _entry_marks(
            entry,
            is_first=on == first,
            inherit=inherit,
            source=source,
            reference=reference,
            first=first,
            file=file,
            where=where,
        )
        entries.append(
            DatedValue(
                effective=on,
                value=value,
                source=entry_source,
                reference=entry_reference,
                origin=origin,
                file=file,
                note=note,
                inherit=inherit,
            )
        )
    return tuple(entries)


def _entry_marks(
    entry: Mapping[str, Any],
    *,
    is_first: bool,
    inherit: bool,
    source: str,
    reference: str,
    first: datetime.date,
    file: str,
    where: str,
) -> tuple[str, str]:
    """The source mark and reference of one dated entry (see ``_dated_values``)."""
    if is_first:
        for name in ("source", "reference"):
            if name in entry:
                raise ParameterError(file, where, ERR_FIRST_MARK.format(field=name))
        return source, reference
    if not inherit:
        for name in ("source", "reference"):
            if name not in entry:
                raise ParameterError(
                    file, where, ERR_LATER_MARK.format(field=name, first=first.isoformat())
                )
    entry_source = entry.get("source", source)
    if entry_source not in spec.SOURCE_MARKS:
        raise ParameterError(file, where, ERR_UNKNOWN_SOURCE.format(source=entry_source))
    entry_reference = (
        _text(entry["reference"], file, where, "reference") if "reference" in entry else reference
    )
    return entry_source, entry_reference


def _leaf(raw: Mapping[str, Any], file: str, path: str) -> Leaf:
    _fields(raw, _LEAF_FIELDS, file, path)
    for name in ("description", "type", "unit", "metadata", "values"):
        if name not in raw:
            raise ParameterError(file, path, ERR_MISSING_FIELD.format(field=name))
    description = _text(raw["description"], file, path, "description")
    unit = _text(raw["unit"], file, path, "unit")
    kind = raw["type"]
    if kind not in spec.KINDS:
        raise ParameterError(
            file, path, ERR_UNKNOWN_KIND.format(kind=kind, expected=", ".join(spec.KINDS))
        )
    keyed_by = raw.get("keyed_by")
    if keyed_by is not None and (
        keyed_by != "household_type" or kind not in (spec.KIND_AMOUNT, spec.KIND_RATE)
    ):
        raise ParameterError(file, path, ERR_KEYED_BY.format(keyed_by=keyed_by))
    choices: tuple[str, ...] | None = None
    if kind == spec.KIND_CHOICE:
        raw_choices = raw.get("choices")
        if (
            not isinstance(raw_choices, list)
            or not raw_choices
            or not all(isinstance(c, str) for c in raw_choices)
        ):
            raise ParameterError(file, path, ERR_CHOICES)
        choices = tuple(raw_choices)
    elif "choices" in raw:
        raise ParameterError(
            file, path, ERR_UNKNOWN_FIELD.format(field="choices", expected="(only for type choice)")
        )
    source, reference = _metadata(raw["metadata"], file, path)
    values = _dated_values(
        raw["values"],
        kind=kind,
        keyed_by=keyed_by,
        choices=choices,
        source=source,
        reference=reference,
        origin=CITY,
        file=file,
        path=path,
    )
    return Leaf(
        path=path,
        kind=kind,
        description=description,
        unit=unit,
        source=source,
        reference=reference,
        file=file,
        values=values,
        keyed_by=keyed_by,
        choices=choices,
    )


def _is_leaf(raw: Mapping[str, Any]) -> bool:
    return any(name in raw for name in ("values", "type", "unit"))


def _walk(raw: Any, file: str, prefix: str, out: dict[str, Leaf]) -> None:
    if not isinstance(raw, Mapping):
        raise ParameterError(file, prefix, ERR_NOT_A_MAPPING.format(got=type(raw).__name__))
    if _is_leaf(raw):
        if prefix in out:
            raise ParameterError(file, prefix, ERR_DUPLICATE_PATH.format(other=out[prefix].file))
        out[prefix] = _leaf(raw, file, prefix)
        return
    for name, child in raw.items():
        if name in _GROUP_FIELDS:
            continue
        path = f"{prefix}.{name}" if prefix else str(name)
        if not isinstance(name, str) or not _NAME.match(name):
            raise ParameterError(file, path, ERR_BAD_NAME.format(name=name))
        _walk(child, file, path, out)


def _check_required(leaves: Mapping[str, Leaf], file: str) -> None:
    required = {**spec.REQUIRED_LEAVES, **spec.APPLICATION_LEAVES}
    for path, (kind, keyed_by, choices) in required.items():
        leaf = leaves.get(path)
        if leaf is None:
            raise ParameterError(file, path, ERR_REQUIRED_MISSING)
        if (
            leaf.kind != kind
            or leaf.keyed_by != keyed_by
            or (choices is not None and set(leaf.choices or ()) != set(choices))
        ):
            raise ParameterError(
                leaf.file,
                path,
                ERR_REQUIRED_SHAPE.format(
                    kind=kind,
                    keyed=f" keyed by {keyed_by}" if keyed_by else "",
                    choices=f" with choices {', '.join(choices)}" if choices else "",
                ),
            )


def _override(raw: Any, city_leaf: Leaf, code: str, file: str, path: str) -> Leaf:
    if not isinstance(raw, Mapping):
        raise ParameterError(file, path, ERR_NOT_A_MAPPING.format(got=type(raw).__name__))
    _fields(raw, _OVERRIDE_FIELDS, file, path)
    for name in ("metadata", "values"):
        if name not in raw:
            raise ParameterError(file, path, ERR_MISSING_FIELD.format(field=name))
    source, reference = _metadata(raw["metadata"], file, path)
    description = (
        _text(raw["description"], file, path, "description")
        if "description" in raw
        else city_leaf.description
    )
    values = _dated_values(
        raw["values"],
        kind=city_leaf.kind,
        keyed_by=city_leaf.keyed_by,
        choices=city_leaf.choices,
        source=source,
        reference=reference,
        origin=code,
        file=file,
        path=path,
    )
    return Leaf(
        path=path,
        kind=city_leaf.kind,
        description=description,
        unit=city_leaf.unit,
        source=source,
        reference=reference,
        file=file,
        values=values,
        keyed_by=city_leaf.keyed_by,
        choices=city_leaf.choices,
    )


def _county(
    raw: Any, code: str, file: str, leaves: Mapping[str, Leaf], known: frozenset[str] | None
) -> dict[str, Leaf]:
    if not _COUNTY_CODE.match(code):
        raise ParameterError(file, "", ERR_COUNTY_FILE)
    if known is not None and code not in known:
        raise ParameterError(file, "", ERR_UNKNOWN_COUNTY.format(code=code))
    if not isinstance(raw, Mapping):
        raise ParameterError(file, "", ERR_NOT_A_MAPPING.format(got=type(raw).__name__))
    _fields(raw, ("county", "description", "parameters"), file, "")
    if "county" in raw:
        stated = raw["county"]
        stated = format(stated, "f") if isinstance(stated, Decimal) else str(stated)
        if stated != code:
            raise ParameterError(
                file, "county", ERR_COUNTY_MISMATCH.format(value=stated, code=code)
            )
    params = raw.get("parameters")
    if not isinstance(params, Mapping) or not params:
        raise ParameterError(file, "parameters", ERR_MISSING_FIELD.format(field="parameters"))
    out: dict[str, Leaf] = {}
    for path, override in params.items():
        path = str(path)
        if path not in leaves:
            raise ParameterError(file, path, ERR_UNKNOWN_PATH)
        out[path] = _override(override, leaves[path], code, file, path)
    return out


# --------------------------------------------------------------------------- entry points


def parameters_from_documents(
    *,
    city: Iterable[tuple[str, str, Any]],
    counties: Iterable[tuple[str, str, Any]] = (),
    known_counties: Iterable[str] | None = None,
) -> ParameterSet:
    """Build a validated set from parsed documents.

    ``city``: (file label, path prefix, document) triples, e.g.
    ``("city/relief/medical.yaml", "relief.medical", {...})``.
    ``counties``: (file label, county code, document) triples.
    """
    known = frozenset(known_counties) if known_counties is not None else None
    leaves: dict[str, Leaf] = {}
    city = list(city)
    for file, prefix, doc in city:
        _walk(doc, file, prefix, leaves)
    _check_required(leaves, "city")
    overrides: dict[str, dict[str, Leaf]] = {}
    for file, code, doc in counties:
        overrides[code] = _county(doc, code, file, leaves, known)
    parameters = ParameterSet(leaves=leaves, overrides=overrides, counties=known)
    _check_order(parameters)
    return parameters


def _check_order(parameters: ParameterSet) -> None:
    """Each pair of ``spec.ORDERED_PAIRS`` in order on every day, in the city and each county."""
    for lower, upper in spec.ORDERED_PAIRS:
        for key in (CITY, *sorted(parameters.overrides)):
            own = parameters.overrides.get(key, {})
            dates = sorted(
                {
                    v.effective
                    for leaf in (
                        parameters.leaves[lower],
                        parameters.leaves[upper],
                        own.get(lower),
                        own.get(upper),
                    )
                    if leaf is not None
                    for v in leaf.values
                }
            )
            for on in dates:
                low = parameters.resolve(lower, key, on)
                high = parameters.resolve(upper, key, on)
                if low is None or high is None or low.value <= high.value:
                    continue
                # name the entry that made the pair disagree: the later of the two, a
                # county's before the city's, the lower one when both are the city's of a day
                path, latest = max(
                    ((lower, low), (upper, high)),
                    key=lambda pair: (pair[1].effective, pair[1].origin != CITY),
                )
                raise ParameterError(
                    latest.file,
                    f"{path} @ {latest.effective.isoformat()}",
                    ERR_ORDER.format(
                        lower=lower, lower_value=low.value, upper=upper, upper_value=high.value
                    ),
                )


def read_tree(root: Path) -> tuple[list[tuple[str, str, Any]], list[tuple[str, str, Any]]]:
    """Read the YAML documents of a parameter root: (city documents, county documents)."""
    city_dir = root / "city"
    files = sorted(city_dir.rglob("*.yaml")) if city_dir.is_dir() else []
    if not files:
        raise ParameterError(str(city_dir), "", ERR_NO_CITY_TREE.format(path=city_dir))
    city = []
    for path in files:
        relative = path.relative_to(city_dir).with_suffix("")
        label = str(path.relative_to(root))
        for part in relative.parts:
            if not _NAME.match(part):
                raise ParameterError(label, "", ERR_BAD_NAME.format(name=part))
        city.append((label, ".".join(relative.parts), read_yaml(path, label)))
    counties = []
    county_dir = root / "counties"
    if county_dir.is_dir():
        for path in sorted(county_dir.glob("*.yaml")):
            label = str(path.relative_to(root))
            counties.append((label, path.stem, read_yaml(path, label)))
    return city, counties


def known_county_codes() -> frozenset[str]:
    """The county-level units of Handan (from ``fangpin.regions.handan``, no database)."""
    from fangpin.regions import handan  # plain module over a CSV; no Django import

    return frozenset(str(c["code"]) for c in handan.counties())


def parameters_load(
    root: Path | str | None = None,
    *,
    known_counties: Iterable[str] | None = None,
    county_documents: Mapping[str, Any] | None = None,
) -> ParameterSet:
    """Load and validate a parameter root (default: the shipped reference set).

    ``known_counties`` defaults to Handan's 18 county-level units.
    ``county_documents`` adds in-memory county overrides ({code: document}),
    e.g. for a what-if calculation or a test.
    """
    root = Path(root) if root is not None else DEFAULT_ROOT
    city, counties = read_tree(root)
    if county_documents:
        counties += [(f"<{code}>", code, doc) for code, doc in county_documents.items()]
    if known_counties is None:
        known_counties = known_county_codes()
    return parameters_from_documents(city=city, counties=counties, known_counties=known_counties)


def parameter_value(path: str, *, on: datetime.date, county: str | None = None) -> Any:
    """The value of the parameter ``path`` in force on ``on``, from the set in use.

    ``county``: a 6-digit county code — the county's own value where it has one,
    else the city's; ``None`` where no county is at hand reads the city's value.
    For example ``parameter_value(spec.PUBLIC_NOTICE_WORKING_DAYS, on=day,
    county="130432")`` → ``5``. Raises ``PolicyInputError`` (field ``county`` or
    ``date``) as ``ParameterSet.read`` does. The set is loaded once per process
    (``parameters_default``), so a call is a bisect and a dictionary look-up.
    """
    return parameters_default().value(path, on=on, county=county)


@functools.cache
def parameters_default() -> ParameterSet:
    """The parameter set in use, loaded once per process.

    The root named by the environment variable ``FANGPIN_POLICY_PARAMETERS``
    (a county office's own copy of the tree), else the shipped reference set
    (POLICY.md).
    """
    root = os.environ.get(ROOT_ENV) or None
    return parameters_load(root)
