"""Tests of the data schemas: ranges, errors naming column and row, no target leakage."""

from __future__ import annotations

import typing as T
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from loguru import logger

from bikes.core import schemas
from bikes.core.errors import DataError
from bikes.io import datasets


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


@pytest.fixture
def logs() -> T.Iterator[list[str]]:
    """Collect the messages logged with loguru during the test."""
    messages: list[str] = []
    handler = logger.add(lambda message: messages.append(message.record["message"]))
    yield messages
    logger.remove(handler)


def test_fractional_floats_are_not_truncated_into_integers(hours: pd.DataFrame) -> None:
    bad = hours.astype({"hr": float})
    bad.loc[6, "hr"] = 12.9
    with pytest.raises(DataError) as error:
        schemas.InputsSchema.check(bad, origin="hour.csv")
    expected = "column 'hr' failed dtype('int64') at row 6 (value 12.9)"
    assert str(error.value) == f"hour.csv: InputsSchema {expected}"


def test_integral_floats_are_integers(hours: pd.DataFrame) -> None:
    inputs = schemas.InputsSchema.check(hours.astype({"hr": float}))
    assert inputs["hr"].dtype == "int64"
    pd.testing.assert_series_equal(inputs["hr"], hours["hr"])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({6: "3"}, "at row 6 (value '3')"),  # text is never read as a number
        ({6: "3", 9: "three"}, "at row 9 (value 'three')"),  # the text that is not a number first
    ],
)
def test_text_is_not_a_number(hours: pd.DataFrame, values: dict[int, str], expected: str) -> None:
    bad = hours.astype({"season": object})
    for row, value in values.items():
        bad.loc[row, "season"] = value
    with pytest.raises(DataError) as error:
        schemas.InputsSchema.check(bad, origin="x")
    assert str(error.value) == f"x: InputsSchema column 'season' failed dtype('int64') {expected}"


def test_a_stray_word_in_a_csv_column_is_named(tmp_path: Path, hours: pd.DataFrame) -> None:
    path = tmp_path / "hour.csv"
    bad = hours.astype({"temp": object})
    bad.loc[50, "temp"] = "?"
    bad.to_csv(path)
    raw = datasets.CSVReader(path=str(path), index_col="instant").read()
    with pytest.raises(DataError) as error:
        schemas.RawSchema.check(raw, origin=str(path))
    assert str(error.value).endswith("column 'temp' failed dtype('float64') at row 50 (value '?')")


def test_dates_are_parsed_from_text_and_logged_once(hours: pd.DataFrame, logs: list[str]) -> None:
    schemas.parsed_as_dates.cache_clear()
    for _ in range(2):
        inputs = schemas.InputsSchema.check(hours)
    assert inputs["dteday"].dtype.kind == "M"
    assert logs == ["InputsSchema: column 'dteday' read as text, parsed as dates"]


def test_numbers_are_not_dates(hours: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"column 'dteday' failed dtype\('datetime64\[ns\]'\) at"):
        schemas.InputsSchema.check(hours.assign(dteday=20110101))


@pytest.mark.parametrize("schema", [schemas.InputsSchema, schemas.TargetsSchema, schemas.RawSchema])
def test_an_hour_is_unique(hours: pd.DataFrame, schema: type[schemas.Schema]) -> None:
    bad = hours.rename(index={3: 2})
    with pytest.raises(DataError) as error:
        schema.check(bad, origin="x")
    assert (
        str(error.value)
        == f"x: {schema.__name__} index 'instant' failed field_uniqueness at row 2 (value 2)"
    )


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("temp", np.nan, r"column 'temp' failed not_nullable at row 6 \(value nan\)"),
        ("temp", np.inf, r"column 'temp' failed less_than_or_equal_to\(1\) at row 6 \(value inf\)"),
        ("hr", np.nan, r"column 'hr' failed coerce_dtype\('int64'\) at row 6 \(value nan\)"),
        (
            "dteday",
            "2011-13-45",
            r"column 'dteday' failed coerce_dtype\('datetime64\[ns\]'\) at row 6",
        ),
    ],
)
def test_missing_infinite_and_impossible_values(
    hours: pd.DataFrame, column: str, value: float | str, expected: str
) -> None:
    bad = hours.astype({"hr": float})
    bad.loc[6, column] = value
    with pytest.raises(DataError, match=expected):
        schemas.InputsSchema.check(bad)


@pytest.mark.real
def test_the_real_data_validates(real_data_path: Path) -> None:
    raw = datasets.CSVReader(path=str(real_data_path), index_col="instant").read()
    checked = schemas.RawSchema.check(raw, origin=str(real_data_path))
    assert len(checked) == len(raw) == 17_379
    assert checked["dteday"].dtype.kind == "M"


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        ((-1.0, 20.0), "column 'prediction_lower' failed greater_than_or_equal_to(0) at row 1"),
        (
            (11.0, 20.0),
            "check 'prediction_lower <= prediction <= prediction_upper' failed at row 1",
        ),
        ((5.0, 9.0), "check 'prediction_lower <= prediction <= prediction_upper' failed at row 1"),
    ],
)
def test_outputs_bounds_are_non_negative_around_the_prediction(
    bounds: tuple[float, float], expected: str
) -> None:
    index = pd.Index([1, 2], name="instant")
    outputs = pd.DataFrame({"prediction": [10.0, 10.0]}, index=index)
    good = outputs.assign(prediction_lower=[5.0, 5.0], prediction_upper=[20.0, 20.0])
    bad = good.copy()
    bad.loc[1, ["prediction_lower", "prediction_upper"]] = bounds

    assert list(schemas.OutputsSchema.check(outputs).columns) == ["prediction"]  # no bounds: fine
    assert schemas.OutputsSchema.check(good).equals(good)
    with pytest.raises(DataError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        schemas.OutputsSchema.check(bad)
