"""The file format of the parameter tree, declared: what a document of it may hold.

``loader.py`` reads the tree (its files and groups, the county files, the values in
force); this module says what each piece must look like, as pydantic models:

- ``LeafFile`` — a parameter in a city file: ``description``, ``type`` (amount | rate |
  ladder | choice | flag | count), ``unit``, optional ``keyed_by: household_type`` (amounts
  and rates) and ``choices`` (choices only), ``metadata`` (``source``, ``reference``: the
  marks of the *first* dated value) and ``values`` (effective date → entry);
- ``OverrideFile`` — a county's override of a city parameter: ``metadata`` and ``values``
  (its kind is the city leaf's), optionally its own ``description``;
- ``CountyFile`` — ``counties/<code>.yaml``: ``county``, ``description``, ``parameters``;
- ``Entry`` — one dated value: ``value`` (of the leaf's kind, see ``entry_model``) or, in a
  county, ``inherit: city``; a later value's own ``source`` and ``reference`` (the first
  takes its marks from the metadata alone); a ``note``.

Every rule refuses with one of the messages below (tests assert on them). ``validated``
turns the first problem pydantic found into a ``ParameterError`` naming the file, the
parameter path (``@ date``, ``bracket N``, ``[household type]`` inside a value) and what is
wrong; a document with several problems is refused naming one of them.

Numbers reach the models as ``Decimal`` read from the YAML text (``read_yaml``); the
validators take them as they are and never let pydantic coerce a number, so a rate written
``0.6`` never passes through a float and a float given in memory is refused.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from fangpin.policy import spec

CITY = "city"  # the city's tree; also the one thing a county's entry may inherit from

ERR_YAML = "not valid YAML: {problem}"
ERR_DUPLICATE_KEY = "duplicate key {key!r} (line {line})"
ERR_NOT_A_MAPPING = "expected a mapping of parameters, got {got}"
ERR_MISSING_FIELD = "missing field {field!r}"
ERR_UNKNOWN_FIELD = "unknown field {field!r}; expected one of {expected}"
ERR_EMPTY_TEXT = "field {field!r} must be a non-empty text"
ERR_UNKNOWN_KIND = "unknown type {kind!r}; expected one of {expected}"
ERR_UNKNOWN_SOURCE = "source mark {source!r} must be one of stated, inferred, assumed"
ERR_KEYED_BY = (
    "keyed_by {keyed_by!r} is not supported; only 'household_type' (for amounts and rates)"
)
ERR_CHOICES = "a choice needs 'choices', a non-empty list of names"
ERR_NO_VALUES = "'values' must map effective dates to {value: ...}; it is empty or not a mapping"
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
ERR_LADDER_EMPTY = "a ladder must be a non-empty list of {threshold, rate}"
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
ERR_COUNTY_MISMATCH = "'county' is {value!r} but the file is for {code}"

_EMPTY_TEXT = "empty_text"  # pydantic error type: the message names the field where it was found


class ParameterError(ValueError):
    """A malformed parameter tree: which file, which parameter path, what is wrong."""

    def __init__(self, file: str, path: str, message: str) -> None:
        self.file = file
        self.path = path
        self.message = message
        super().__init__(f"{file}: {path or '(top)'}: {message}")


def _refused(message: str) -> PydanticCustomError:
    """A rule's refusal; pydantic keeps the message as written, and where it was found."""
    return PydanticCustomError("parameter", message)


# --------------------------------------------------------------------------- YAML


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads numbers as Decimal and refuses duplicate keys."""


class _DuplicateKey(Exception):
    pass


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


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class EntryRules:
    """What one dated entry is checked against: its leaf's options and its place in time."""

    on: datetime.date
    first: datetime.date  # the leaf's first date: that value's marks are the metadata's
    city: bool  # only a county's entry may inherit the city's value
    choices: tuple[str, ...] | None = None
    allowed: range | tuple[int, ...] | None = None  # spec.COUNT_VALUES of the path


def _number(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        raise _refused(ERR_NOT_A_NUMBER.format(what=what, value=value))
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise _refused(ERR_NOT_A_NUMBER.format(what=what, value=value)) from None
    if not number.is_finite():
        raise _refused(ERR_NOT_FINITE.format(what=what, value=value))
    return number


def _amount(what: str) -> Callable[[Any], Decimal]:
    def amount(value: Any) -> Decimal:
        number = _number(value, what)
        if number < 0:
            raise _refused(ERR_NEGATIVE.format(what=what, value=number))
        if number > spec.MAX_AMOUNT:
            raise _refused(ERR_TOO_LARGE.format(what=what, value=number, max=spec.MAX_AMOUNT))
        if number != number.quantize(Decimal("0.01")):
            raise _refused(ERR_FEN.format(what=what, value=number))
        return number

    return amount


def _rate(value: Any) -> Decimal:
    number = _number(value, "rate")
    if number < 0 or number > 1:
        raise _refused(ERR_RATE_RANGE.format(value=number))
    if number != number.quantize(Decimal(1).scaleb(-spec.RATE_PLACES)):
        raise _refused(ERR_RATE_PLACES.format(value=number, places=spec.RATE_PLACES))
    return number


def _describe_allowed(allowed: range | tuple[int, ...]) -> str:
    if isinstance(allowed, range):
        return f"a whole number from {allowed.start} to {allowed.stop - 1}"
    return "one of " + ", ".join(str(n) for n in allowed)


def _count(value: Any, info: ValidationInfo) -> int:
    number = _number(value, "count")
    if number.as_tuple().exponent < 0:  # 5.5, and 5.0 too: a count is written whole
        raise _refused(ERR_COUNT_WHOLE.format(value=value))
    if number < 0 or number > spec.MAX_COUNT:
        raise _refused(ERR_COUNT_RANGE.format(value=number, max=spec.MAX_COUNT))
    count = int(number)
    allowed = info.context.allowed
    if allowed is not None and count not in allowed:
        raise _refused(ERR_COUNT_VALUES.format(value=count, allowed=_describe_allowed(allowed)))
    return count


def _choice(value: Any, info: ValidationInfo) -> str:
    choices = info.context.choices or ()
    if not isinstance(value, str) or value not in choices:
        raise _refused(ERR_CHOICE.format(value=value, choices=", ".join(choices)))
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _refused(ERR_FLAG.format(value=value))
    return value


Amount = Annotated[Decimal, PlainValidator(_amount("amount"))]  # yuan, to the fen
Threshold = Annotated[Decimal, PlainValidator(_amount("threshold"))]
Rate = Annotated[Decimal, PlainValidator(_rate)]  # 0–1, at most spec.RATE_PLACES places
Count = Annotated[int, PlainValidator(_count)]  # whole, 0–spec.MAX_COUNT, or the path's values
Choice = Annotated[str, PlainValidator(_choice)]  # one of the leaf's choices
Flag = Annotated[bool, PlainValidator(_flag)]


@dataclass(frozen=True, slots=True)
class Bracket:
    """One step of a ladder: ``rate`` applies to the slice from ``threshold`` up to the next one."""

    threshold: Threshold
    rate: Rate


def _ladder_shape(value: Any) -> Any:
    if not isinstance(value, list) or not value:
        raise _refused(ERR_LADDER_EMPTY)
    for index, step in enumerate(value, start=1):
        if not isinstance(step, Mapping) or set(step) != {"threshold", "rate"}:
            raise _refused(ERR_LADDER_STEP.format(index=index))
    return value


def _ladder_order(steps: tuple[Bracket, ...]) -> tuple[Bracket, ...]:
    if steps[0].threshold != 0:
        raise _refused(ERR_LADDER_START.format(value=steps[0].threshold))
    thresholds = [s.threshold for s in steps]
    if any(b <= a for a, b in zip(thresholds, thresholds[1:], strict=False)):
        shown = ", ".join(format(t, "f") for t in thresholds)
        raise _refused(ERR_UNSORTED_THRESHOLDS.format(thresholds=shown))
    return steps


# thresholds are yuan above the start line: from 0, strictly increasing
Ladder = Annotated[
    tuple[Bracket, ...], BeforeValidator(_ladder_shape), AfterValidator(_ladder_order)
]


def _household_types(value: Any) -> dict[str, Any]:
    """One value for each household type, in ``spec.HOUSEHOLD_TYPES`` order."""
    if not isinstance(value, Mapping):
        raise _refused(ERR_KEYED_NOT_MAPPING)
    for key in value:
        if key not in spec.HOUSEHOLD_TYPES:
            raise _refused(ERR_UNKNOWN_HOUSEHOLD_TYPE.format(key=key))
    for key in spec.HOUSEHOLD_TYPES:
        if key not in value:
            raise _refused(ERR_MISSING_HOUSEHOLD_TYPE.format(key=key))
    return {key: value[key] for key in spec.HOUSEHOLD_TYPES}


_VALUE_TYPES: dict[str, Any] = {
    spec.KIND_AMOUNT: Amount,
    spec.KIND_RATE: Rate,
    spec.KIND_LADDER: Ladder,
    spec.KIND_CHOICE: Choice,
    spec.KIND_FLAG: Flag,
    spec.KIND_COUNT: Count,
}
KEYABLE = (spec.KIND_AMOUNT, spec.KIND_RATE)  # kinds that may be keyed by household type


# --------------------------------------------------------------------------- fields


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PydanticCustomError(_EMPTY_TEXT, "a non-empty text")
    return value.strip()


def _one_of(allowed: tuple[str, ...], message: Callable[[Any], str]) -> PlainValidator:
    def check(value: Any) -> str:
        if value not in allowed:
            raise _refused(message(value))
        return value

    return PlainValidator(check)


def _effective(key: Any) -> datetime.date:
    if isinstance(key, datetime.datetime):
        raise _refused(ERR_BAD_DATE.format(key=str(key)))
    if isinstance(key, datetime.date):
        return key
    try:
        return datetime.date.fromisoformat(str(key))
    except ValueError:
        raise _refused(ERR_BAD_DATE.format(key=str(key))) from None


def _non_empty_mapping(message: str) -> BeforeValidator:
    def check(value: Any) -> Any:
        if not isinstance(value, Mapping) or not value:
            raise _refused(message)
        return value

    return BeforeValidator(check)


Text = Annotated[str, PlainValidator(_text)]  # stripped
SourceMark = Annotated[
    str, _one_of(spec.SOURCE_MARKS, lambda v: ERR_UNKNOWN_SOURCE.format(source=v))
]
Kind = Annotated[
    str,
    _one_of(spec.KINDS, lambda v: ERR_UNKNOWN_KIND.format(kind=v, expected=", ".join(spec.KINDS))),
]
EffectiveDate = Annotated[datetime.date, PlainValidator(_effective)]
DatedValues = Annotated[dict[EffectiveDate, Any], _non_empty_mapping(ERR_NO_VALUES)]


# --------------------------------------------------------------------------- documents


class _Document(BaseModel):
    """A mapping of the declared fields only: an unknown field is refused, naming them all."""

    @classmethod
    def _not_a_mapping(cls, data: Any, context: Any) -> str:
        return ERR_NOT_A_MAPPING.format(got=type(data).__name__)

    @classmethod
    def _fields_given(cls, given: Mapping[str, Any], context: Any) -> None:
        """Further checks of which fields are written, before any value is read."""

    @model_validator(mode="before")
    @classmethod
    def _declared_fields_only(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, Mapping):
            raise _refused(cls._not_a_mapping(data, info.context))
        for name in data:
            if name not in cls.model_fields:
                expected = ", ".join(cls.model_fields)
                raise _refused(ERR_UNKNOWN_FIELD.format(field=name, expected=expected))
        cls._fields_given(data, info.context)
        return data


class Metadata(BaseModel):
    """Where the first dated value comes from: POLICY.md's mark (S / I / A) and the document.

    Other keys are allowed (and ignored)."""

    reference: Text
    source: SourceMark

    @model_validator(mode="before")
    @classmethod
    def _mapping(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise _refused(ERR_MISSING_FIELD.format(field="metadata"))
        return data


class LeafFile(_Document):
    """A parameter as a city file writes it: a mapping with ``values``."""

    description: Text
    type: Kind
    unit: Text
    keyed_by: Any = None
    choices: Any = None
    metadata: Metadata
    values: DatedValues

    @model_validator(mode="after")
    def _options_of_the_kind(self) -> LeafFile:
        keyed_by = self.keyed_by
        if keyed_by is not None and (keyed_by != "household_type" or self.type not in KEYABLE):
            raise _refused(ERR_KEYED_BY.format(keyed_by=keyed_by))
        if self.type == spec.KIND_CHOICE:
            choices = self.choices
            if (
                not isinstance(choices, list)
                or not choices
                or not all(isinstance(c, str) for c in choices)
            ):
                raise _refused(ERR_CHOICES)
            self.choices = tuple(choices)
        elif "choices" in self.model_fields_set:
            message = ERR_UNKNOWN_FIELD.format(field="choices", expected="(only for type choice)")
            raise _refused(message)
        return self


class OverrideFile(_Document):
    """A county's dated values of one city parameter (of the city leaf's kind)."""

    description: Text = ""  # "": the city leaf's
    metadata: Metadata
    values: DatedValues


class CountyFile(_Document):
    """``counties/<code>.yaml``; validated with the file's code as the context."""

    county: Any = None
    description: Any = None
    parameters: Annotated[
        dict[Any, Any], _non_empty_mapping(ERR_MISSING_FIELD.format(field="parameters"))
    ]

    @field_validator("county")
    @classmethod
    def _the_files_county(cls, county: Any, info: ValidationInfo) -> str:
        stated = format(county, "f") if isinstance(county, Decimal) else str(county)
        if stated != info.context:
            raise _refused(ERR_COUNTY_MISMATCH.format(value=stated, code=info.context))
        return stated


V = TypeVar("V")


class Entry(_Document, Generic[V]):
    """One dated value; validated with ``EntryRules`` as the context (see ``entry_model``).

    A value is there or, in a county, ``inherit: city``; a later value carries its own
    ``source`` and ``reference``, the first one takes its marks from the metadata alone.
    """

    value: V = None  # type: ignore[assignment]  # absent when not in model_fields_set
    inherit: Any = None
    source: SourceMark = ""  # "": the metadata's
    reference: Text = ""
    note: Text = ""

    @classmethod
    def _not_a_mapping(cls, data: Any, context: EntryRules) -> str:
        return ERR_ENTRY.format(date=context.on.isoformat())

    @classmethod
    def _fields_given(cls, given: Mapping[str, Any], context: EntryRules) -> None:
        if "inherit" in given:
            if context.city:
                raise _refused(ERR_INHERIT_IN_CITY)
            if given["inherit"] != CITY or "value" in given:
                raise _refused(ERR_INHERIT_VALUE)
        elif "value" not in given:
            raise _refused(ERR_MISSING_VALUE.format(date=context.on.isoformat()))
        for name in ("source", "reference"):
            if context.on == context.first and name in given:
                raise _refused(ERR_FIRST_MARK.format(field=name))

    @model_validator(mode="after")
    def _a_later_value_has_its_own_marks(self, info: ValidationInfo) -> Entry[V]:
        rules: EntryRules = info.context
        given = self.model_fields_set
        for name in ("source", "reference"):
            if rules.on != rules.first and name not in given and "inherit" not in given:
                first = rules.first.isoformat()
                raise _refused(ERR_LATER_MARK.format(field=name, first=first))
        return self


@functools.cache
def entry_model(kind: str, keyed_by: str | None) -> type[Entry[Any]]:
    """The entry of a leaf of ``kind``: its ``value`` one of that kind, or one per household type."""
    value = _VALUE_TYPES[kind]
    if keyed_by is not None:
        value = Annotated[dict[str, value], BeforeValidator(_household_types)]
    return Entry[value]


# --------------------------------------------------------------------------- refusals

M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], raw: Any, *, file: str, where: str, context: Any = None) -> M:
    """``raw`` as a ``model``, or a ``ParameterError`` for the first problem found.

    ``where`` is the parameter path (``path @ date`` for an entry); inside an entry's value
    the bracket or household type is added; a county file (``where`` empty) names the field.
    """
    try:
        return model.model_validate(raw, context=context)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
    loc = error["loc"]
    field = ".".join(str(part) for part in loc)
    if error["type"] == "missing":
        message = ERR_MISSING_FIELD.format(field=field)
    elif error["type"] == _EMPTY_TEXT:
        message = ERR_EMPTY_TEXT.format(field=field)
    else:
        message = error["msg"]
    if not where:
        where = str(loc[0]) if loc else ""
    elif loc[:1] == ("value",) and len(loc) > 1:
        if not isinstance(loc[1], int):
            where = f"{where} [{loc[1]}]"
        elif len(loc) > 2:
            where = f"{where} bracket {loc[1] + 1}"
    raise ParameterError(file, where, message)
