"""Requests and responses of the serving API, typed and documented (with examples) for `/docs`.

`/invocations` takes MLflow's scoring protocol (`dataframe_split`, `dataframe_records`, `inputs`) in
the model's encodings; `/forecast` takes hours in the units a person uses (see `encodings`).
"""

from __future__ import annotations

import datetime as dt
import typing as T
import zoneinfo

import pydantic as pdt

from bikes.serving.encodings import (
    EXAMPLE_INPUTS,
    FEELS_LIKE_RANGE,
    HUMIDITY_MAX,
    TEMPERATURE_RANGE,
    WIND_SPEED_MAX,
    Weather,
)
from bikes.serving.validation import InputsError, Violation

if T.TYPE_CHECKING:
    import pandas as pd

# local time of the data (Capital Bikeshare, Washington, D.C.): aware timestamps are converted to it
TIMEZONE = "America/New_York"
# hours of one `/forecast` request at most
MAX_HOURS = 10_000
FORMATS = ("dataframe_split", "dataframe_records", "inputs")

# a cell: any JSON value, checked by the inputs' rules (pydantic would take twice as long)
Cell = T.Annotated[
    T.Any, pdt.WithJsonSchema({"type": ["integer", "number", "string", "boolean", "null"]})
]
type Columns = dict[str, list[Cell]]

ROW_EXAMPLE: dict[str, pdt.JsonValue] = dict(EXAMPLE_INPUTS)
SPLIT_EXAMPLE: pdt.JsonValue = {
    "dataframe_split": {"columns": list(ROW_EXAMPLE), "data": [list(ROW_EXAMPLE.values())]}
}
RECORDS_EXAMPLE: pdt.JsonValue = {"dataframe_records": [ROW_EXAMPLE]}
INPUTS_EXAMPLE: pdt.JsonValue = {"inputs": {name: [value] for name, value in ROW_EXAMPLE.items()}}
HOUR_EXAMPLE: dict[str, pdt.JsonValue] = {  # the hour of EXAMPLE_INPUTS
    "timestamp": "2012-07-04T08:00:00",
    "temperature": 27.0,
    "feels_like": 30.0,
    "humidity": 65,
    "wind_speed": 11.0,
    "weather": "clear",
    "holiday": True,
}


class Model(pdt.BaseModel, strict=False, frozen=True, extra="forbid"):
    """Base of the API's models: frozen, no unknown field."""


def records_columns(records: T.Sequence[T.Mapping[str, Cell]]) -> tuple[Columns, int]:
    """Return the columns of records (a key missing from a record is a missing value)."""
    names = list(dict.fromkeys(name for record in records for name in record))
    return {name: [record.get(name) for record in records] for name in names}, len(records)


class DataframeSplit(Model):
    """A data frame as pandas writes it with `orient="split"` (the index is not used)."""

    columns: list[str] = pdt.Field(min_length=1)
    data: list[list[Cell]]
    index: list[int | str] | None = None


class SplitRequest(Model):
    """Rows as a list of cells, with the column names once."""

    model_config = pdt.ConfigDict(json_schema_extra={"examples": [SPLIT_EXAMPLE]})

    dataframe_split: DataframeSplit
    params: dict[str, pdt.JsonValue] | None = pdt.Field(
        default=None, description="MLflow's inference parameters (unused: the model takes none)"
    )

    def columns(self) -> tuple[Columns, int]:
        """Return the columns of the request and its number of rows."""
        split = self.dataframe_split
        width = len(split.columns)
        for row, cells in enumerate(split.data):
            if len(cells) != width:
                violation = Violation(None, row, len(cells), f"{width} cells a row")
                message = f"dataframe_split: row {row} has {len(cells)} cells, not {width}"
                raise InputsError(message, [violation])
        transposed: list[tuple[Cell, ...]] = list(zip(*split.data, strict=True))
        values = transposed or [() for _ in split.columns]
        columns = {name: list(cells) for name, cells in zip(split.columns, values, strict=True)}
        return columns, len(split.data)


class RecordsRequest(Model):
    """Rows as a list of objects, one value a column."""

    model_config = pdt.ConfigDict(json_schema_extra={"examples": [RECORDS_EXAMPLE]})

    dataframe_records: list[dict[str, Cell]]
    params: dict[str, pdt.JsonValue] | None = pdt.Field(
        default=None, description="MLflow's inference parameters (unused: the model takes none)"
    )

    def columns(self) -> tuple[Columns, int]:
        """Return the columns of the request and its number of rows."""
        return records_columns(self.dataframe_records)


class InputsRequest(Model):
    """Rows as lists of values, one a column (or as a list of objects, one a row)."""

    model_config = pdt.ConfigDict(json_schema_extra={"examples": [INPUTS_EXAMPLE]})

    inputs: dict[str, list[Cell]] | list[dict[str, Cell]]
    params: dict[str, pdt.JsonValue] | None = pdt.Field(
        default=None, description="MLflow's inference parameters (unused: the model takes none)"
    )

    def columns(self) -> tuple[Columns, int]:
        """Return the columns of the request and its number of rows."""
        if isinstance(self.inputs, list):
            return records_columns(self.inputs)
        lengths = {name: len(values) for name, values in self.inputs.items()}
        rows = max(lengths.values(), default=0)
        for name, length in lengths.items():
            if length != rows:
                message = f"inputs: column '{name}' has {length} values, not {rows}"
                raise InputsError(message, [Violation(name, None, length, f"{rows} values")])
        return dict(self.inputs), rows


def invocation_format(body: object) -> str | None:
    """Return the format of a scoring request: its first key of MLflow's protocol."""
    if isinstance(body, dict):
        return next((key for key in FORMATS if key in body), None)
    found = [key for key in FORMATS if hasattr(body, key)]
    return found[0] if found else None


Invocation = T.Annotated[
    T.Annotated[SplitRequest, pdt.Tag("dataframe_split")]
    | T.Annotated[RecordsRequest, pdt.Tag("dataframe_records")]
    | T.Annotated[InputsRequest, pdt.Tag("inputs")],
    pdt.Discriminator(
        invocation_format,
        custom_error_type="scoring_format",
        custom_error_message="expected one of the keys dataframe_split, dataframe_records, inputs",
    ),
]


class ModelRef(Model):
    """The model version that answered."""

    name: str = pdt.Field(description="name of the registered model", examples=["bikes"])
    version: int = pdt.Field(description="version of the registered model", examples=[3])
    alias: str | None = pdt.Field(
        description="alias that the server follows (None: a pinned version)", examples=["champion"]
    )


class Predictions(Model):
    """Predicted rentals of each row, and the model version that predicted them."""

    predictions: list[float] = pdt.Field(description="rentals of each row (never negative)")
    predictions_lower: list[float] | None = pdt.Field(
        default=None, description="lower bound of each row's interval (None: a model without)"
    )
    predictions_upper: list[float] | None = pdt.Field(
        default=None, description="upper bound of each row's interval (None: a model without)"
    )
    model: ModelRef


class Hour(Model):
    """An hour to forecast, in the units a person uses.

    Give either `timestamp`, or `date` and `hour`. Times are local times of Washington, D.C. (the
    system of the data): a timestamp with an offset is converted to that zone.
    """

    model_config = pdt.ConfigDict(json_schema_extra={"examples": [HOUR_EXAMPLE]})

    timestamp: dt.datetime | None = pdt.Field(
        default=None, description="start of the hour, local time (minutes are ignored)"
    )
    date: dt.date | None = pdt.Field(default=None, description="day of the hour (with `hour`)")
    hour: int | None = pdt.Field(default=None, ge=0, le=23, description="hour of the day, 0-23")
    temperature: float = pdt.Field(
        ge=TEMPERATURE_RANGE[0], le=TEMPERATURE_RANGE[1], description="air temperature, in °C"
    )
    feels_like: float = pdt.Field(
        ge=FEELS_LIKE_RANGE[0], le=FEELS_LIKE_RANGE[1], description="felt temperature, in °C"
    )
    humidity: float = pdt.Field(ge=0, le=HUMIDITY_MAX, description="relative humidity, in %")
    wind_speed: float = pdt.Field(ge=0, le=WIND_SPEED_MAX, description="wind speed, in km/h")
    weather: Weather = pdt.Field(description="weather situation, from clear to heavy rain")
    holiday: bool = pdt.Field(default=False, description="a public holiday")

    @pdt.model_validator(mode="after")
    def one_time(self) -> T.Self:
        """Check that the hour is given once: a timestamp, or a date and an hour."""
        if (self.timestamp is None) == (self.date is None or self.hour is None):
            raise ValueError("give either timestamp, or date and hour")
        if self.timestamp is not None and (self.date is not None or self.hour is not None):
            raise ValueError("give either timestamp, or date and hour, not both")
        return self

    def local_time(self) -> dt.datetime:
        """Return the hour as a naive local time of the data's zone."""
        if self.timestamp is None:
            assert self.date is not None and self.hour is not None  # noqa: S101  # one_time
            return dt.datetime.combine(self.date, dt.time(self.hour))
        if self.timestamp.tzinfo is None:
            return self.timestamp
        return self.timestamp.astimezone(zoneinfo.ZoneInfo(TIMEZONE)).replace(tzinfo=None)


class ForecastRequest(Model):
    """Hours to forecast (one or many)."""

    hours: list[Hour] = pdt.Field(min_length=1, max_length=MAX_HOURS)

    def frame(self) -> pd.DataFrame:
        """Return the hours as a data frame of a person's units (the input of `encodings`)."""
        import pandas as pd

        hours = self.hours
        return pd.DataFrame(
            {
                "timestamp": pd.to_datetime([hour.local_time() for hour in hours]),
                "temperature": [hour.temperature for hour in hours],
                "feels_like": [hour.feels_like for hour in hours],
                "humidity": [hour.humidity for hour in hours],
                "wind_speed": [hour.wind_speed for hour in hours],
                "weather": [hour.weather.value for hour in hours],
                "holiday": [hour.holiday for hour in hours],
            }
        )


class Forecast(Model):
    """The forecast of one hour."""

    timestamp: dt.datetime = pdt.Field(description="start of the hour, local time")
    prediction: float = pdt.Field(ge=0, description="rentals in the hour")
    prediction_lower: float | None = pdt.Field(
        default=None, ge=0, description="lower bound of its interval (None: a model without)"
    )
    prediction_upper: float | None = pdt.Field(
        default=None, ge=0, description="upper bound of its interval (None: a model without)"
    )


class Forecasts(Model):
    """The forecasts of the hours, in their order, and the model version that made them."""

    forecasts: list[Forecast]
    model: ModelRef


class ModelCard(Model):
    """The model served: its version, alias, training metrics and signature."""

    name: str
    version: int
    alias: str | None
    uri: str = pdt.Field(description="URI of the version loaded")
    run_id: str | None = pdt.Field(description="training run of the version")
    loaded_at: str = pdt.Field(description="when the server loaded it (UTC, ISO 8601)")
    metrics: dict[str, float] = pdt.Field(description="metrics of its training run")
    signature: dict[str, T.Any] | None = pdt.Field(description="MLflow signature of its inputs")
    tags: dict[str, str] = pdt.Field(description="tags of the version")


class Health(Model):
    """Whether the server is alive, or ready to predict (a model is loaded)."""

    status: T.Literal["alive", "ready", "loading"]
    version: int | None = pdt.Field(default=None, description="version served, once loaded")
    detail: str | None = pdt.Field(default=None, description="why it is not ready yet")


class ViolationOut(Model):
    """A value of a request that breaks a rule."""

    field: str | None = pdt.Field(description="column, or field of the request", examples=["hr"])
    row: int | None = pdt.Field(description="row of the request, from 0", examples=[0])
    value: pdt.JsonValue = pdt.Field(description="the value refused", examples=[30])
    rule: str = pdt.Field(description="the rule broken", examples=["less_than_or_equal_to(23)"])


class Problem(Model):
    """Why a request was refused: one line, and each value at fault."""

    detail: str = pdt.Field(
        examples=["request: RequestSchema column 'hr' failed less_than_or_equal_to(23) at row 0"]
    )
    violations: list[ViolationOut] = pdt.Field(default_factory=list)


# %% DOCUMENTATION (of the endpoints in `/docs`)

ENCODINGS = """\
Predict rows in the model's encodings, sent with MLflow's scoring protocol (`dataframe_split`,
`dataframe_records` or `inputs`), so MLflow clients work unchanged. Each column is checked by the
rules of the batch jobs' inputs schema; a violation answers 422 with the field, row (from 0) and
value, never a prediction. The columns, as in the UCI data:

| column | meaning |
| --- | --- |
| `season` | 1 winter (from Dec. 21), 2 spring (Mar. 21), 3 summer (June 21), 4 fall (Sep. 23) |
| `yr` | year - 2011: 0 or 1 (the data covers 2011 and 2012) |
| `mnth`, `hr` | month 1-12, hour 0-23 |
| `holiday`, `workingday` | 1 on a public holiday; 1 on a weekday that is not a holiday |
| `weekday` | day of the week, 0 Sunday to 6 Saturday |
| `weathersit` | 1 clear, 2 mist, 3 light rain or snow, 4 heavy rain, ice pellets or snow and fog |
| `temp` | (°C + 8) / 47: 0 is -8 °C, 1 is 39 °C |
| `atemp` | felt temperature, (°C + 16) / 66: 0 is -16 °C, 1 is 50 °C |
| `hum` | relative humidity in % / 100 |
| `windspeed` | km/h / 67 |
| `dteday` | the date (optional: the model does not read it; checked when sent) |

`/forecast` takes the same hours in the units a person uses.
"""
FORECAST = """\
Forecast the rentals of hours given in the units a person uses: a timestamp (or a date and an
hour), temperatures in °C, humidity in %, wind speed in km/h, the weather by name and whether the
day is a public holiday. The server derives the calendar fields (season, year, month, day of the
week, working day) and the model's encodings. Times are local times of Washington, D.C.; the model
knows the years 2011 and 2012 only, and the ranges of the data's weather (a value outside answers
422, naming the field and the row).
"""
INVOCATION_EXAMPLES: dict[str, T.Any] = {
    "dataframe_split": {"summary": "one row, the columns once", "value": SPLIT_EXAMPLE},
    "dataframe_records": {"summary": "rows as objects", "value": RECORDS_EXAMPLE},
    "inputs": {"summary": "columns as lists", "value": INPUTS_EXAMPLE},
    "nonsense": {
        "summary": "degrees instead of the encoding, hour 30 (answers 422)",
        "value": {"dataframe_records": [{**ROW_EXAMPLE, "temp": 29.5, "hr": 30}]},
    },
}
BY_DATE = {key: value for key, value in HOUR_EXAMPLE.items() if key != "timestamp"}
FORECAST_EXAMPLES: dict[str, T.Any] = {
    "timestamp": {"summary": "an hour by its timestamp", "value": {"hours": [HOUR_EXAMPLE]}},
    "date and hour": {
        "summary": "hours by date and hour",
        "value": {
            "hours": [
                {**BY_DATE, "date": "2012-07-05", "hour": hour, "holiday": False}
                for hour in (7, 8, 9)
            ]
        },
    },
}
