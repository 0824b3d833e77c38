"""Read the dated parameter tree: the city's YAML files plus county overrides, the value
in force on a date, and the parameter versions.

Policy as data (STYLE.md, *OpenFisca*; POLICY.md: "Every number here is a
parameter: a county office must be able to change it, with an effective date,
without a code change").

Layout under a root directory (the shipped one is ``policy/parameters/``)::

    city/<group>/<file>.yaml      the city's tree; directories and files are groups,
                                  a mapping with ``values`` is a parameter (a leaf)
    counties/<code>.yaml          optional overrides for one county (6-digit code)

What a leaf, a dated entry and a county file may hold, and what each kind of value
must be, is declared in ``schema.py`` (docs/POLICY-ENGINE.md, "Parameters as data").
In short: each dated value carries its own source mark (POLICY.md's S / I / A) and
reference — the leaf's ``metadata`` describes its *first* dated value only, and every
later value names its own ``source`` and ``reference``; a county's ``{inherit: city}``
entry needs none (the city's value is then in force, cited with the city's marks).

The value in force on a date is the latest one dated on or before it. A county
override lists its own dated values for a city parameter; from its first date
on, the county's latest value governs (a later city change does not reach a
county that has its own value until the county adds ``{inherit: city}``).

Outside the relief engine, read one parameter with ``parameter_value(path,
on=..., county=...)`` (the county's value where it has its own, else the
city's; ``county=None`` reads the city's).

Numbers are read as ``Decimal`` straight from the YAML text (``schema.read_yaml``): a
rate written ``0.6`` never passes through a float. A malformed tree fails at load time
with ``ParameterError``, naming the file, the parameter path and what is wrong.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime
import functools
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from fangpin.policy import schema, spec
from fangpin.policy.schema import CITY, ERR_NOT_A_MAPPING, Bracket, ParameterError, read_yaml

DEFAULT_ROOT = Path(__file__).resolve().parent / "parameters"
ROOT_ENV = "FANGPIN_POLICY_PARAMETERS"

# Error messages of the tree (tests assert on these; a document's own are in schema.py).
ERR_BAD_NAME = "name {name!r} must be lower_snake_case"
ERR_ORDER = "{lower} is {lower_value} but {upper} is {upper_value}; it cannot be above it"
ERR_DUPLICATE_PATH = "parameter defined twice (also in {other})"
ERR_REQUIRED_MISSING = "the engine needs this parameter; it is missing from the city tree"
ERR_REQUIRED_SHAPE = "the engine needs a {kind}{keyed}{choices} here"
ERR_COUNTY_FILE = "county override files are named <6-digit code>.yaml"
ERR_UNKNOWN_COUNTY = "unknown county code {code}"
ERR_UNKNOWN_PATH = "no such parameter in the city tree"
ERR_NO_CITY_TREE = "no city tree (expected YAML files under {path})"

# Errors raised when reading values in force (PolicyInputError, field "date" / "county").
ERR_BEFORE_POLICY = "date {on} is before the policy existed (政策尚未实施; in force from {start})"
ERR_COUNTY_NOT_KNOWN = "unknown county code {code!r} (未知县级行政区划代码)"
ERR_NOT_IN_FORCE = "parameter {path} has no value in force on {on}"

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_COUNTY_CODE = re.compile(r"^\d{6}$")
_GROUP_FIELDS = ("description", "metadata")


class PolicyInputError(ValueError):
    """A case the policy cannot evaluate; ``field`` names the input that is wrong."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class DatedValue:
    """One dated entry of a parameter's history."""

    effective: datetime.date
    value: Any  # Decimal | int | str | bool | Ladder | dict[str, Decimal]; None when inherit
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

    def reading(self, entry: DatedValue) -> Reading:
        """``entry`` (a value of this parameter, or the city's for a county) as cited."""
        return Reading(
            path=self.path,
            kind=self.kind,
            description=self.description,
            unit=self.unit,
            effective=entry.effective,
            value=entry.value,
            source=entry.source,
            reference=entry.reference,
            origin=entry.origin,
        )


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
        return leaf.reading(entry)

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
            readings[path] = leaf.reading(entry)
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


# --------------------------------------------------------------------------- the tree


def _dated_values(doc: schema.LeafFile | schema.OverrideFile, leaf: Leaf, origin: str) -> Leaf:
    """``leaf`` with the dated entries of ``doc`` (a city leaf's or a county's), by date.

    The metadata's ``source`` and ``reference`` describe the first dated value; every later
    value carries its own (checked by ``schema.Entry``); an ``{inherit: city}`` entry needs
    none (it is cited with the city's marks).
    """
    model = schema.entry_model(leaf.kind, leaf.keyed_by)
    dates = sorted(doc.values)
    entries: list[DatedValue] = []
    for on in dates:
        rules = schema.EntryRules(
            on=on,
            first=dates[0],
            city=origin == CITY,
            choices=leaf.choices,
            allowed=spec.COUNT_VALUES.get(leaf.path),
        )
        where = f"{leaf.path} @ {on.isoformat()}"
        entry = schema.validated(model, doc.values[on], file=leaf.file, where=where, context=rules)
        inherit = "inherit" in entry.model_fields_set
        entries.append(
            DatedValue(
                effective=on,
                value=None if inherit else entry.value,
                source=entry.source or leaf.source,
                reference=entry.reference or leaf.reference,
                origin=origin,
                file=leaf.file,
                note=entry.note,
                inherit=inherit,
            )
        )
    return dataclasses.replace(leaf, values=tuple(entries))


def _leaf(raw: Mapping[str, Any], file: str, path: str) -> Leaf:
    doc = schema.validated(schema.LeafFile, raw, file=file, where=path)
    leaf = Leaf(
        path=path,
        kind=doc.type,
        description=doc.description,
        unit=doc.unit,
        source=doc.metadata.source,
        reference=doc.metadata.reference,
        file=file,
        values=(),
        keyed_by=doc.keyed_by,
        choices=doc.choices,
    )
    return _dated_values(doc, leaf, CITY)


def _override(raw: Any, city_leaf: Leaf, code: str, file: str, path: str) -> Leaf:
    doc = schema.validated(schema.OverrideFile, raw, file=file, where=path)
    leaf = dataclasses.replace(
        city_leaf,
        description=doc.description or city_leaf.description,
        source=doc.metadata.source,
        reference=doc.metadata.reference,
        file=file,
    )
    return _dated_values(doc, leaf, code)


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


def _county(
    raw: Any, code: str, file: str, leaves: Mapping[str, Leaf], known: frozenset[str] | None
) -> dict[str, Leaf]:
    if not _COUNTY_CODE.match(code):
        raise ParameterError(file, "", ERR_COUNTY_FILE)
    if known is not None and code not in known:
        raise ParameterError(file, "", ERR_UNKNOWN_COUNTY.format(code=code))
    doc = schema.validated(schema.CountyFile, raw, file=file, where="", context=code)
    out: dict[str, Leaf] = {}
    for path, override in doc.parameters.items():
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
