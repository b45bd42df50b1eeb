"""Tests of the data schemas: ranges, errors naming column and row, no target leakage."""

from __future__ import annotations

import pandas as pd
import pytest

from bikes.core import schemas
from bikes.core.errors import DataError


def test_raw_schema_accepts_and_coerces(hours: pd.DataFrame) -> None:
    raw = schemas.RawSchema.check(hours)
    assert raw["dteday"].dtype.kind == "M"
    assert len(raw) == len(hours)


def test_inputs_never_carry_the_target_or_its_parts(hours: pd.DataFrame) -> None:
    inputs = schemas.InputsSchema.check(hours)
    forbidden = {schemas.TARGET, *schemas.LEAKING_COLUMNS}
    assert forbidden.isdisjoint(inputs.columns)
    assert forbidden.isdisjoint(schemas.InputsSchema.to_schema().columns)
    assert list(schemas.TargetsSchema.check(hours).columns) == [schemas.TARGET]


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("hr", 24, "column 'hr' failed less_than_or_equal_to(23) at row 6 (value 24)"),
        ("season", 5, "column 'season' failed isin([1, 2, 3, 4]) at row 6 (value 5)"),
        ("temp", 1.5, "column 'temp' failed less_than_or_equal_to(1) at row 6 (value 1.5)"),
    ],
)
def test_violations_name_column_row_and_value(
    hours: pd.DataFrame, column: str, value: float, expected: str
) -> None:
    bad = hours.copy()
    bad.loc[6, column] = value
    with pytest.raises(DataError) as error:
        schemas.InputsSchema.check(bad, origin="hour.csv")
    assert str(error.value) == f"hour.csv: InputsSchema {expected}"


def test_counts_must_add_up(hours: pd.DataFrame) -> None:
    bad = hours.copy()
    bad["casual"] = bad["casual"].where(bad.index != 9, bad["casual"] + 1)
    with pytest.raises(DataError, match="check 'casual \\+ registered == cnt' failed at row 9"):
        schemas.RawSchema.check(bad)


def test_missing_and_unexpected_columns(hours: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="missing column 'hum'"):
        schemas.RawSchema.check(hours.drop(columns="hum"))
    with pytest.raises(DataError, match="unexpected column 'extra'"):
        schemas.RawSchema.check(hours.assign(extra=1))


def test_many_failures_are_summarized(hours: pd.DataFrame) -> None:
    bad = hours.assign(hr=99, mnth=0, weekday=9, season=0)
    with pytest.raises(DataError, match=r"and 1 more failed check\(s\)$"):
        schemas.InputsSchema.check(bad)
