"""Check the inputs of a request by the rules of the inputs schema, fast enough for one row.

pandera checks a frame in about 10 ms, whatever its size: more than the budget of a whole request.
The rules here are read once from the pandera schema itself (its columns, types and checks), so they
are the batch jobs' rules, and only a frame that they find plainly valid skips pandera. A value
they cannot decide (of another type, missing, or under a check of a kind they do not know) or any
violation sends the frame to pandera, which decides and names the failures as for the batch jobs.
"""

from __future__ import annotations

import dataclasses
import math
import typing as T

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pandera.typing as pt

from bikes.core import schemas
from bikes.core.errors import DataError

# violations listed in a response at most (the message counts them all)
MAX_VIOLATIONS = 100
# pandera's failure cases about a whole column rather than a value
COLUMN_CHECKS = frozenset({"column_in_dataframe", "column_in_schema"})
# the types of the schema's columns that the compiled rules decide
DTYPES = frozenset({"int64", "float64", "datetime64[ns]"})

type Values = T.Sequence[object] | np.ndarray
type Typed = dict[str, np.ndarray]  # columns of valid inputs, typed as the schema types them
type Mask = T.Callable[[np.ndarray], np.ndarray]


class RequestSchema(schemas.InputsSchema):
    """The inputs schema, where the date is optional: the models read the calendar fields only."""

    dteday: pt.Series[pa.DateTime] | None  # type: ignore[assignment]  # pandera: not required


@dataclasses.dataclass(frozen=True)
class Violation:
    """A value (or a column) of a request that breaks a rule.

    Attributes:
        field: the column (or the field of the request) at fault.
        row: the position of the row in the request, from 0 (None: the whole column).
        value: the value refused, as JSON (None for a missing column).
        rule: the rule broken, as pandera names it (e.g. `less_than_or_equal_to(23)`).
    """

    field: str | None
    row: int | None
    value: object
    rule: str


class InputsError(DataError):
    """Inputs that break the rules of the inputs schema: one line, and each violation."""

    def __init__(self, message: str, violations: T.Sequence[Violation]) -> None:
        """Keep the message (field, row and value of the first violations) and the violations."""
        super().__init__(message)
        self.violations = list(violations)


def jsonable(value: object) -> object:
    """Return a value of a data frame as JSON can hold it (NaN as None, dates as ISO text)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def violations(failures: pd.DataFrame) -> list[Violation]:
    """Return the violations of pandera's failure cases: the missing columns and failed values."""
    found: dict[tuple[str | None, int | None, str], Violation] = {}
    for case in failures.itertuples(index=False):
        check = str(case.check)
        if check in COLUMN_CHECKS:
            found[(str(case.failure_case), None, check)] = Violation(
                field=str(case.failure_case), row=None, value=None, rule=check
            )
        elif (row := row_of(case.index)) is not None:  # a value, not a comparison that crashed
            field = case.column if isinstance(case.column, str) else None
            found[(field, row, check)] = Violation(field, row, jsonable(case.failure_case), check)
    return list(found.values())[:MAX_VIOLATIONS]


def row_of(index: object) -> int | None:
    """Return the row of a failure case (None when it has none)."""
    if isinstance(index, int | np.integer):
        return int(index)
    if isinstance(index, float | np.floating) and float(index).is_integer():
        return int(index)
    return None


def failing(name: str, statistics: dict[str, T.Any]) -> Mask | None:
    """Return a function masking the values that fail a pandera check (None: an unknown check)."""
    checks: dict[str, Mask] = {
        "isin": lambda v: ~np.isin(v, list(statistics.get("allowed_values", []))),
        "notin": lambda v: np.isin(v, list(statistics.get("forbidden_values", []))),
        "greater_than_or_equal_to": lambda v: ~(v >= statistics.get("min_value")),
        "greater_than": lambda v: ~(v > statistics.get("min_value")),
        "less_than_or_equal_to": lambda v: ~(v <= statistics.get("max_value")),
        "less_than": lambda v: ~(v < statistics.get("max_value")),
        "equal_to": lambda v: ~(v == statistics.get("value")),
        "not_equal_to": lambda v: ~(v != statistics.get("value")),
    }
    if name == "in_range":
        low, high = statistics["min_value"], statistics["max_value"]
        above = np.greater_equal if statistics.get("include_min", True) else np.greater
        below = np.less_equal if statistics.get("include_max", True) else np.less
        return lambda v: ~(above(v, low) & below(v, high))
    return checks.get(name)


def array(raw: Values) -> np.ndarray | None:
    """Return values as a numpy array (None for cells that make none, e.g. lists of two lengths)."""
    try:
        return np.asarray(raw)
    except (ValueError, TypeError):
        return None


def whole(values: np.ndarray) -> bool:
    """Tell whether floats are all whole numbers (not NaN nor infinite)."""
    return bool(np.isfinite(values).all() and (np.trunc(values) == values).all())


def dates(values: np.ndarray) -> np.ndarray | None:
    """Return dates, or text in ISO 8601, as dates (None when some are neither)."""
    if values.dtype.kind == "M":
        return values.astype("datetime64[ns]")
    if values.dtype.kind not in "OU":
        return None
    parsed = pd.to_datetime(pd.Series(values), format="ISO8601", errors="coerce")
    return None if parsed.isna().any() else parsed.to_numpy(dtype="datetime64[ns]")


@dataclasses.dataclass(frozen=True)
class ColumnRule:
    """The rules of one column: its type, whether it is required, and its checks.

    Attributes:
        name: name of the column.
        kind: numpy kind of its type (`i` integers, `f` floats, `M` dates; another: undecidable).
        required: the schema requires the column.
        masks: one function a check, masking the values that fail it (None: an unknown check).
    """

    name: str
    kind: str
    required: bool
    masks: tuple[Mask | None, ...]

    @classmethod
    def of(cls, name: str, column: pa.Column) -> ColumnRule:
        """Compile the rules of a column of a pandera schema."""
        kind = np.dtype(str(column.dtype)).kind if str(column.dtype) in DTYPES else "?"
        masks = tuple(failing(check.name, check.statistics or {}) for check in column.checks)
        return cls(name=name, kind=kind, required=bool(column.required), masks=masks)

    def cast(self, raw: Values) -> np.ndarray | None:
        """Return the values in the column's type, or None when they need pandera's judgement."""
        values = array(raw)
        if values is None:
            return None
        kind = values.dtype.kind
        if self.kind == "i" and (kind in "iub" or (kind == "f" and whole(values))):
            return values.astype("int64")  # whole numbers sent as floats (12.0) included
        if self.kind == "f" and kind in "iuf" and not bool(np.isnan(values).any()):
            return values.astype("float64")
        if self.kind == "M" and not self.masks:
            return dates(values)
        return None

    def valid(self, values: np.ndarray) -> bool:
        """Tell whether every value passes every check (False when a check is unknown)."""
        return all(mask is not None and not mask(values).any() for mask in self.masks)

    def mistyped(self, values: Values) -> list[Violation]:
        """Return the cells that are not of the column's type: text, fractions, missing values."""
        if self.kind not in "if":
            return []
        found = []
        for row, value in enumerate(values):
            number = isinstance(value, int | float | np.number) and not isinstance(value, str)
            fits = number and math.isfinite(float(value))
            if fits and self.kind == "i":
                fits = float(value).is_integer()
            if not fits:
                dtype = "int64" if self.kind == "i" else "float64"
                found.append(Violation(self.name, row, jsonable(value), f"dtype('{dtype}')"))
        return found


class Rules:
    """The rules of a schema, compiled for one model: the columns it reads are required.

    Attributes:
        schema: the pandera schema (the judge of every frame that is not plainly valid).
        required: the columns the model reads: a request without one of them is refused.
    """

    def __init__(self, schema: type[schemas.Schema], required: T.Sequence[str]) -> None:
        """Compile the columns and checks of `schema`."""
        model = schema.to_schema()
        self.schema, self.required = schema, list(required)
        self.columns = [ColumnRule.of(name, column) for name, column in model.columns.items()]
        self.index = model.index.name if model.index is not None else None
        checks = model.index.checks if model.index is not None else []
        self.index_masks = [failing(check.name, check.statistics or {}) for check in checks]
        self.decidable = not model.checks and None not in self.index_masks

    def check(self, columns: T.Mapping[str, Values], rows: int, origin: str) -> Typed:
        """Return the columns that the model reads, as the schema types them, or raise.

        Raises:
            InputsError: a column the model reads is missing, or a value breaks a rule.
        """
        if rows == 0:
            raise InputsError(f"{origin}: no rows to predict", [])
        missing = [name for name in self.required if name not in columns]
        if missing:
            message = "; ".join(f"missing column '{name}'" for name in missing)
            cases = [Violation(name, None, None, "column_in_dataframe") for name in missing]
            raise InputsError(f"{origin}: {self.schema.__name__} {message}", cases)
        typed = self.fast(columns, rows) if self.decidable else None
        if typed is None:
            typed = self.judge(columns, rows, origin)
        return {name: typed[name] for name in self.required}

    def fast(self, columns: T.Mapping[str, Values], rows: int) -> Typed | None:
        """Return the typed columns if every value is plainly valid, else None (pandera decides)."""
        index = np.arange(rows)
        if any(mask is None or mask(index).any() for mask in self.index_masks):
            return None
        typed: Typed = {}
        for rule in self.columns:
            if rule.name not in columns:
                if rule.required:
                    return None
                continue
            values = rule.cast(columns[rule.name])
            if values is None or len(values) != rows or not rule.valid(values):
                return None
            typed[rule.name] = values
        return typed

    def judge(self, columns: T.Mapping[str, Values], rows: int, origin: str) -> Typed:
        """Check the inputs with pandera: its coerced columns, or its failures as violations."""
        index = pd.RangeIndex(rows, name=self.index)
        frame = pd.DataFrame(
            {name: pd.Series(list(values), index=index) for name, values in columns.items()},
            index=index,
        )
        try:
            checked = self.schema.check(frame, origin=origin)
        except DataError as error:
            failures = getattr(error.__cause__, "failure_cases", None)
            if not isinstance(failures, pd.DataFrame):  # a message only: types refused first
                found = [
                    v
                    for rule in self.columns
                    if rule.name in columns
                    for v in rule.mistyped(columns[rule.name])
                ]
                raise InputsError(str(error), found[:MAX_VIOLATIONS]) from error
            failures = as_sent(failures, columns)
            message = f"{origin}: {self.schema.__name__} {schemas.describe(failures)}"
            raise InputsError(message, violations(failures)) from error
        return {name: checked[name].to_numpy() for name in checked.columns}

    def frame(self, typed: T.Sequence[Typed]) -> pd.DataFrame:
        """Return the typed columns of one or more requests as one data frame of inputs."""
        if len(typed) == 1:
            columns = typed[0]
        else:
            columns = {name: np.concatenate([part[name] for part in typed]) for name in typed[0]}
        rows = len(next(iter(columns.values()))) if columns else 0
        return pd.DataFrame(columns, index=pd.RangeIndex(rows, name=self.index), copy=False)


def as_sent(failures: pd.DataFrame, columns: T.Mapping[str, Values]) -> pd.DataFrame:
    """Return pandera's failure cases with the values as sent (pandera's may be 2.0 for 2)."""
    cases = failures["failure_case"].astype(object).tolist()
    for number, (column, index) in enumerate(
        zip(failures["column"], failures["index"], strict=True)
    ):
        values, row = columns.get(column) if isinstance(column, str) else None, row_of(index)
        if values is not None and row is not None and 0 <= row < len(values):
            cases[number] = values[row]
    return failures.assign(failure_case=pd.Series(cases, index=failures.index, dtype=object))
