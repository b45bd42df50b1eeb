"""The model's encodings of an hour, from the units a person uses.

The encodings are those of the UCI data set, checked against its `hour.csv`:

- `temp` = (t - t_min) / (t_max - t_min) with t_min = -8 and t_max = +39 degrees Celsius, and
  `atemp` with t_min = -16 and t_max = +50. (The Readme shipped with the data says "divided to
  41" and "to 50": the data contradicts it, as the "feels like" temperature equals the temperature
  in mild, calm hours only with the min-max scaling; `atemp` * 66 - 16 is a whole number on every
  row.)
- `hum` is the relative humidity in percent divided by 100, `windspeed` the speed in km/h divided
  by 67.
- `season` 1 is winter (from December 21), 2 spring (March 21), 3 summer (June 21), 4 fall
  (September 23): the Readme names them from spring, but the data's seasons start on these days.
- `yr` = year - 2011, `weekday` 0 is Sunday, `workingday` is 1 on weekdays that are not holidays.
- `weathersit` 1 clear .. 4 heavy rain (see `Weather`).
"""

from __future__ import annotations

import enum
import typing as T

if T.TYPE_CHECKING:
    import numpy as np
    import pandas as pd

TEMPERATURE_RANGE = (-8.0, 39.0)  # degrees Celsius scaled to 0..1 in `temp`
FEELS_LIKE_RANGE = (-16.0, 50.0)  # degrees Celsius scaled to 0..1 in `atemp`
HUMIDITY_MAX = 100.0  # percent
WIND_SPEED_MAX = 67.0  # km/h
FIRST_YEAR = 2011  # `yr` 0
# (month, day) on which seasons 2 (spring), 3 (summer), 4 (fall) and 1 (winter) start
SEASON_STARTS = ((3, 21, 2), (6, 21, 3), (9, 23, 4), (12, 21, 1))
SUNDAY = 0
SATURDAY = 6
# an hour in the model's encodings: 8 a.m. on Wednesday, July 4 2012 (a holiday), clear, 27 °C
EXAMPLE_INPUTS: T.Final[dict[str, int | float]] = {
    "season": 3,
    "yr": 1,
    "mnth": 7,
    "hr": 8,
    "holiday": 1,
    "weekday": 3,
    "workingday": 0,
    "weathersit": 1,
    "temp": 0.7447,
    "atemp": 0.697,
    "hum": 0.65,
    "windspeed": 0.1642,
}


# the field of a person's hour behind each input column (to name it in errors)
FIELDS: T.Final[dict[str, str]] = {
    "dteday": "timestamp",
    "season": "timestamp",
    "yr": "timestamp",
    "mnth": "timestamp",
    "hr": "timestamp",
    "weekday": "timestamp",
    "holiday": "holiday",
    "workingday": "holiday",
    "weathersit": "weather",
    "temp": "temperature",
    "atemp": "feels_like",
    "hum": "humidity",
    "windspeed": "wind_speed",
}


class Weather(enum.StrEnum):
    """The weather situation of an hour, by name (`weathersit` 1 to 4)."""

    CLEAR = "clear"  # clear, few clouds, partly cloudy
    MIST = "mist"  # mist and clouds
    LIGHT_RAIN = "light_rain"  # light snow or rain, thunderstorm with scattered clouds
    HEAVY_RAIN = "heavy_rain"  # heavy rain, ice pellets, thunderstorm, snow and fog

    @property
    def code(self) -> int:
        """Return the code of the weather situation in the data (1 clear .. 4 heavy rain)."""
        return list(Weather).index(self) + 1


def scale(values: pd.Series[float], bounds: tuple[float, float]) -> pd.Series[float]:
    """Scale values from `bounds` to 0..1 (min-max)."""
    low, high = bounds
    return (values - low) / (high - low)


def seasons(stamps: pd.DatetimeIndex) -> np.ndarray:
    """Return the season of each day: 1 winter, 2 spring, 3 summer, 4 fall (data's convention)."""
    import numpy as np

    day = stamps.month.to_numpy() * 100 + stamps.day.to_numpy()
    season = np.ones(len(stamps), dtype="int64")  # winter, up to March 20
    for month, start, code in SEASON_STARTS:
        season[day >= month * 100 + start] = code
    return season


def calendar(stamps: pd.DatetimeIndex, holidays: pd.Series[bool]) -> pd.DataFrame:
    """Return the calendar columns of hours: date, season, year, month, hour, day of the week."""
    import pandas as pd

    weekday = (stamps.day_of_week.to_numpy() + 1) % 7  # pandas: Monday 0; the data: Sunday 0
    holiday = holidays.to_numpy(dtype=bool)
    workingday = (weekday != SUNDAY) & (weekday != SATURDAY) & ~holiday
    return pd.DataFrame(
        {
            "dteday": stamps.normalize(),
            "season": seasons(stamps),
            "yr": stamps.year.to_numpy() - FIRST_YEAR,
            "mnth": stamps.month.to_numpy(),
            "hr": stamps.hour.to_numpy(),
            "holiday": holiday.astype("int64"),
            "weekday": weekday.astype("int64"),
            "workingday": workingday.astype("int64"),
        }
    )


def encode(hours: pd.DataFrame) -> pd.DataFrame:
    """Encode hours in a person's units as model inputs (the columns of the inputs schema).

    Args:
        hours: one row an hour: `timestamp` (local time), `temperature` and `feels_like` (degrees
            Celsius), `humidity` (percent), `wind_speed` (km/h), `weather` (a `Weather` name) and
            `holiday` (bool).

    Returns:
        The inputs, indexed by `instant` = the position of the hour in `hours`.
    """
    import pandas as pd

    stamps = pd.DatetimeIndex(hours["timestamp"]).floor("h")
    inputs = calendar(stamps, hours["holiday"])
    codes = {weather.value: weather.code for weather in Weather}
    inputs["weathersit"] = hours["weather"].map(codes).to_numpy(dtype="int64")
    inputs["temp"] = scale(hours["temperature"], TEMPERATURE_RANGE).to_numpy(dtype="float64")
    inputs["atemp"] = scale(hours["feels_like"], FEELS_LIKE_RANGE).to_numpy(dtype="float64")
    inputs["hum"] = (hours["humidity"] / HUMIDITY_MAX).to_numpy(dtype="float64")
    inputs["windspeed"] = (hours["wind_speed"] / WIND_SPEED_MAX).to_numpy(dtype="float64")
    inputs.index = pd.RangeIndex(len(inputs), name="instant")
    return inputs
