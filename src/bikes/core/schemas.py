"""Typed data frames (pandera) of the raw data, model inputs, targets and outputs.

`casual` and `registered` add up to `cnt`: they leak the target, so they live only in the raw
schema. The inputs schema filters every column it does not name, so they can never reach a model.
"""

from __future__ import annotations

import typing as T

import pandas as pd
import pandera.pandas as pa
import pandera.typing as pt

from bikes.core.errors import DataError

TARGET = "cnt"
LEAKING_COLUMNS = ("casual", "registered")
MAX_REPORTED_FAILURES = 3


class Schema(pa.DataFrameModel):
    """Base schema: coerce dtypes, then report violations in one line naming column and row."""

    class Config:
        """Default settings of the schemas."""

        coerce = True
        strict = False

    @classmethod
    def check(cls, data: pd.DataFrame, origin: str = "data") -> pd.DataFrame:
        """Validate (and coerce) a data frame, raising a `DataError` that names column and row."""
        try:
            return T.cast(pd.DataFrame, cls.validate(data, lazy=True))
        except pa.errors.SchemaErrors as error:
            raise DataError(f"{origin}: {cls.__name__} {describe(error.failure_cases)}") from error


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
            phrases.append(f"column '{column}' failed {check}{where}{value}")
    unique = list(dict.fromkeys(phrases))
    more = len(unique) - MAX_REPORTED_FAILURES
    suffix = f"; and {more} more failed check(s)" if more > 0 else ""
    return "; ".join(unique[:MAX_REPORTED_FAILURES]) + suffix


class InputsSchema(Schema):
    """Model inputs: calendar and weather of one hour, indexed by `instant`."""

    class Config:
        """Drop every other column (targets and leaking columns included)."""

        strict = "filter"

    instant: pt.Index[int] = pa.Field(ge=0, check_name=True)
    dteday: pt.Series[pa.DateTime]
    season: pt.Series[int] = pa.Field(isin=[1, 2, 3, 4])
    yr: pt.Series[int] = pa.Field(isin=[0, 1])
    mnth: pt.Series[int] = pa.Field(ge=1, le=12)
    hr: pt.Series[int] = pa.Field(ge=0, le=23)
    holiday: pt.Series[int] = pa.Field(isin=[0, 1])
    weekday: pt.Series[int] = pa.Field(ge=0, le=6)
    workingday: pt.Series[int] = pa.Field(isin=[0, 1])
    weathersit: pt.Series[int] = pa.Field(ge=1, le=4)
    temp: pt.Series[float] = pa.Field(ge=0, le=1)
    atemp: pt.Series[float] = pa.Field(ge=0, le=1)
    hum: pt.Series[float] = pa.Field(ge=0, le=1)
    windspeed: pt.Series[float] = pa.Field(ge=0, le=1)


class TargetsSchema(Schema):
    """Targets: the count of rentals of one hour."""

    class Config:
        """Keep the target only."""

        strict = "filter"

    instant: pt.Index[int] = pa.Field(ge=0, check_name=True)
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
    """Model outputs: the predicted count of one hour."""

    class Config:
        """Keep the prediction only."""

        strict = "filter"

    instant: pt.Index[int] = pa.Field(ge=0, check_name=True)
    prediction: pt.Series[float] = pa.Field(ge=0)


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
