"""Typed data frames (pandera) of the raw data, model inputs, targets and outputs.

`casual` and `registered` add up to `cnt`: they leak the target, so they live only in the raw
schema. The inputs schema filters every column it does not name, so they can never reach a model.
"""

from __future__ import annotations

import functools
import typing as T

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pandera.typing as pt
from loguru import logger

from bikes.core.errors import DataError

TARGET = "cnt"
LEAKING_COLUMNS = ("casual", "registered")
MAX_REPORTED_FAILURES = 3
FAILURE_COLUMNS = ["schema_context", "column", "check", "index", "failure_case"]

if T.TYPE_CHECKING:
    Series: T.TypeAlias = pd.Series[T.Any]
else:  # pandas' Series is generic for the type checker only
    Series = pd.Series


class Schema(pa.DataFrameModel):
    """Base schema: refuse lossy types, coerce the rest, report violations in one line.

    Types are strict at the boundary: an integer column takes integers (or floats without a
    fractional part), a number column takes numbers, never text (`'3'`); a date column takes dates,
    or text parsed as dates (CSV files have no date type; logged once).
    """

    class Config:
        """Default settings of the schemas."""

        coerce = True  # only lossless conversions remain once `lossy_values` found none
        strict = False

    @classmethod
    def check(cls, data: pd.DataFrame, origin: str = "data") -> pd.DataFrame:
        """Validate (and coerce) a data frame, raising a `DataError` that names column and row."""
        failures = lossy_values(cls, data)
        if len(failures):
            raise DataError(f"{origin}: {cls.__name__} {describe(failures)}")
        try:
            return T.cast(pd.DataFrame, cls.validate(data, lazy=True))
        except pa.errors.SchemaErrors as error:
            raise DataError(f"{origin}: {cls.__name__} {describe(error.failure_cases)}") from error


def lossy_values(schema: type[Schema], data: pd.DataFrame) -> pd.DataFrame:
    """Find the values that coercion would change or invent, as pandera failure cases."""
    model = schema.to_schema()
    fields = [(name, column.dtype, "Column") for name, column in model.columns.items()]
    if model.index is not None and model.index.name == data.index.name:
        fields.append((model.index.name, model.index.dtype, "Index"))
    cases = []
    for name, dtype, context in fields:
        if context == "Column" and name not in data.columns:
            continue  # pandera reports missing columns
        values = data.index if context == "Index" else data[name]
        wanted = getattr(dtype.type, "kind", "O")
        if wanted == "M" and values.dtype.kind == "O" and values.notna().any():
            parsed_as_dates(schema.__name__, name)
        mask = lossy(values, wanted)
        if mask is not None and mask.any():
            failed = {"index": data.index[mask], "failure_case": values[mask].to_numpy(object)}
            case = {"schema_context": context, "column": name, "check": f"dtype('{dtype}')"}
            cases.append(pd.DataFrame(case | failed))
    return pd.concat(cases) if cases else pd.DataFrame(columns=FAILURE_COLUMNS)


def lossy(values: Series | pd.Index, wanted: str) -> np.ndarray | None:
    """Mask the values that coercion to a dtype of kind `wanted` would change (None: none can)."""
    kind = values.dtype.kind
    if kind == wanted or (wanted in "iuf" and kind in "iub") or (wanted == "M" and kind == "O"):
        return None
    if wanted in "iu" and kind == "f":  # keep 12.0, refuse 12.9 (NaN and inf: pandera's)
        numbers = values.to_numpy()
        return T.cast(np.ndarray, np.isfinite(numbers) & (np.trunc(numbers) != numbers))
    if wanted in "iuf" and kind == "O":
        return textual(pd.Series(values), wanted)
    if wanted in "iufM":  # e.g. numbers as dates: never nanoseconds since 1970
        return T.cast(np.ndarray, values.notna().to_numpy())
    return None


def textual(values: Series, wanted: str) -> np.ndarray:
    """Mask text (and fractional numbers) in a column of objects of kind `wanted` (numbers).

    A stray word in a CSV column turns all its numbers into text: the words alone are named then.
    """
    text = values.map(lambda value: isinstance(value, str | bytes)).to_numpy(dtype=bool)
    words = text & pd.to_numeric(values.where(text), errors="coerce").isna().to_numpy()
    if words.any():
        return words
    numbers = pd.to_numeric(values.where(~text), errors="coerce")
    fractional = lossy(numbers, wanted) if numbers.dtype.kind == "f" else None
    return text if fractional is None else text | fractional


@functools.cache
def parsed_as_dates(schema: str, column: str) -> None:
    """Log, once a process, that a column of text was parsed as dates."""
    logger.info("{}: column '{}' read as text, parsed as dates", schema, column)


def describe(failures: pd.DataFrame) -> str:
    """Summarize pandera failure cases: one phrase a failed check, naming column, row and value."""
    phrases = []
    for (context, column, check), cases in failures.groupby(
        ["schema_context", "column", "check"], sort=False, dropna=False
    ):
        first = cases.iloc[0]
        rows = cases["index"].dropna().unique()
        where = f" at row {rows[0]}" if len(rows) else ""
        where += f" (and {len(rows) - 1} more rows)" if len(rows) > 1 else ""
        if check == "column_in_dataframe":
            phrases.append(f"missing column '{first.failure_case}'")
        elif check == "column_in_schema":
            phrases.append(f"unexpected column '{first.failure_case}'")
        elif context == "DataFrameSchema":
            phrases.append(f"check '{check}' failed{where}")
        else:
            case = (
                first.failure_case.item()
                if hasattr(first.failure_case, "item")
                else first.failure_case
            )
            value = f" (value {case!r})" if len(rows) else ""
            field = "index" if context == "Index" else "column"
            phrases.append(f"{field} '{column}' failed {check}{where}{value}")
    unique = list(dict.fromkeys(phrases))
    more = len(unique) - MAX_REPORTED_FAILURES
    suffix = f"; and {more} more failed check(s)" if more > 0 else ""
    return "; ".join(unique[:MAX_REPORTED_FAILURES]) + suffix


class InputsSchema(Schema):
    """Model inputs: calendar and weather of one hour, indexed by `instant`."""

    class Config:
        """Drop every other column (targets and leaking columns included)."""

        strict = "filter"

    instant: pt.Index[int] = pa.Field(
        ge=0, check_name=True, unique=True, description="number of the hour in the data set"
    )
    dteday: pt.Series[pa.DateTime] = pa.Field(description="day of the hour")
    season: pt.Series[int] = pa.Field(
        isin=[1, 2, 3, 4], description="season: 1 winter, 2 spring, 3 summer, 4 fall"
    )
    yr: pt.Series[int] = pa.Field(isin=[0, 1], description="year: 0 is 2011, 1 is 2012")
    mnth: pt.Series[int] = pa.Field(ge=1, le=12, description="month: 1 is January")
    hr: pt.Series[int] = pa.Field(ge=0, le=23, description="hour of the day (local time)")
    holiday: pt.Series[int] = pa.Field(isin=[0, 1], description="1 on a public holiday")
    weekday: pt.Series[int] = pa.Field(ge=0, le=6, description="day of the week: 0 is Sunday")
    workingday: pt.Series[int] = pa.Field(
        isin=[0, 1], description="1 on a weekday that is not a holiday"
    )
    weathersit: pt.Series[int] = pa.Field(
        ge=1, le=4, description="weather: 1 clear, 2 mist, 3 light rain or snow, 4 heavy rain"
    )
    temp: pt.Series[float] = pa.Field(
        ge=0, le=1, description="air temperature: (°C + 8) / 47, so 0 is -8 °C and 1 is 39 °C"
    )
    atemp: pt.Series[float] = pa.Field(
        ge=0, le=1, description="felt temperature: (°C + 16) / 66, so 0 is -16 °C and 1 is 50 °C"
    )
    hum: pt.Series[float] = pa.Field(ge=0, le=1, description="relative humidity: % / 100")
    windspeed: pt.Series[float] = pa.Field(
        ge=0, le=1, description="wind speed: km/h / 67, so 1 is 67 km/h"
    )


class TargetsSchema(Schema):
    """Targets: the count of rentals of one hour."""

    class Config:
        """Keep the target only."""

        strict = "filter"

    instant: pt.Index[int] = pa.Field(ge=0, check_name=True, unique=True)
    cnt: pt.Series[int] = pa.Field(ge=0)


class RawSchema(InputsSchema):
    """The raw hourly file of the UCI data set, leaking columns included."""

    class Config:
        """Keep every column of the raw file, and no other."""

        strict = True

    casual: pt.Series[int] = pa.Field(ge=0)
    registered: pt.Series[int] = pa.Field(ge=0)
    cnt: pt.Series[int] = pa.Field(ge=0)

    @pa.dataframe_check(error="casual + registered == cnt")
    @classmethod
    def counts_add_up(cls, data: pd.DataFrame) -> pt.Series[bool]:
        """Check that the two leaking columns add up to the target."""
        return T.cast("pt.Series[bool]", data["casual"] + data["registered"] == data["cnt"])


class OutputsSchema(Schema):
    """Model outputs: the predicted count of one hour, and its interval when the model has one.

    A model registered without intervals (before they existed) predicts no bounds columns.
    """

    class Config:
        """Keep the prediction and its bounds only."""

        strict = "filter"

    instant: pt.Index[int] = pa.Field(ge=0, check_name=True)
    prediction: pt.Series[float] = pa.Field(ge=0)
    prediction_lower: pt.Series[float] | None = pa.Field(ge=0)
    prediction_upper: pt.Series[float] | None = pa.Field(ge=0)

    @pa.dataframe_check(error="prediction_lower <= prediction <= prediction_upper")
    @classmethod
    def around_prediction(cls, data: pd.DataFrame) -> pt.Series[bool]:
        """Check that the interval holds the prediction (when the outputs have one)."""
        if "prediction_lower" not in data or "prediction_upper" not in data:
            return T.cast("pt.Series[bool]", pd.Series(True, index=data.index))
        inside = (data["prediction_lower"] <= data["prediction"]) & (
            data["prediction"] <= data["prediction_upper"]
        )
        return T.cast("pt.Series[bool]", inside)


class SHAPValuesSchema(Schema):
    """SHAP values: one column of floats a feature, one row a sample."""

    class Config:
        """Feature columns are not known in advance."""

        dtype = float
        strict = False


class FeatureImportancesSchema(Schema):
    """Global feature importances of a model."""

    feature: pt.Series[str]
    importance: pt.Series[float]


class PredictionsSchema(OutputsSchema):
    """Predictions as the inference job writes them: the hour, the prediction, the version."""

    class Config:
        """Keep the columns of predictions only."""

        strict = "filter"

    timestamp: pt.Series[pa.DateTime]
    model_version: pt.Series[int] = pa.Field(ge=0)


def hours(inputs: pd.DataFrame) -> Series:
    """Return the hour of each input: its day (`dteday`) plus its hour (`hr`)."""
    return pd.to_datetime(inputs["dteday"]) + pd.to_timedelta(inputs["hr"], unit="h")
