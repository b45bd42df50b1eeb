"""Split data chronologically into train and test sets, or time-series folds. Never shuffle."""

from __future__ import annotations

import abc
import typing as T

import pydantic as pdt

if T.TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    Index: T.TypeAlias = npt.NDArray[np.intp]
    TrainTest: T.TypeAlias = tuple[Index, Index]
    Splits: T.TypeAlias = T.Iterator[TrainTest]


class Splitter(abc.ABC, pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """Split rows, in their order, into (train, test) positions."""

    KIND: str

    @abc.abstractmethod
    def split(self, inputs: pd.DataFrame) -> Splits:
        """Yield the (train, test) positions of each split."""


class TrainTestSplitter(Splitter):
    """One chronological split: the first rows to train, the last rows to test.

    Attributes:
        test_size: fraction (0 to 1) or number of the last rows to test on.
        gap: rows left out between train and test (e.g. 24 hours against leakage by lags).
    """

    KIND: T.Literal["TrainTestSplitter"] = "TrainTestSplitter"
    test_size: float | int = pdt.Field(default=0.2, gt=0)
    gap: int = pdt.Field(default=0, ge=0)

    @T.override
    def split(self, inputs: pd.DataFrame) -> Splits:
        import numpy as np

        n_rows = len(inputs)
        n_test = (
            round(n_rows * self.test_size) if isinstance(self.test_size, float) else self.test_size
        )
        n_train = n_rows - n_test - self.gap
        if n_test < 1 or n_train < 1:
            message = f"cannot split {n_rows} rows into train, gap {self.gap} and test {n_test}"
            raise ValueError(message)
        yield np.arange(n_train), np.arange(n_rows - n_test, n_rows)


class TimeSeriesSplitter(Splitter):
    """Expanding-window folds over time (scikit-learn's `TimeSeriesSplit`).

    Attributes:
        n_splits: number of folds.
        test_size: rows of each test fold (an equal share of the data when None).
        gap: rows left out between each train and test fold.
        max_train_size: cap on the rows of each train fold (expanding window when None).
    """

    KIND: T.Literal["TimeSeriesSplitter"] = "TimeSeriesSplitter"
    n_splits: int = pdt.Field(default=4, ge=2)
    test_size: int | None = pdt.Field(default=None, gt=0)
    gap: int = pdt.Field(default=0, ge=0)
    max_train_size: int | None = pdt.Field(default=None, gt=0)

    @T.override
    def split(self, inputs: pd.DataFrame) -> Splits:
        from sklearn.model_selection import TimeSeriesSplit

        splitter = TimeSeriesSplit(
            n_splits=self.n_splits,
            test_size=self.test_size,
            gap=self.gap,
            max_train_size=self.max_train_size,
        )
        yield from splitter.split(inputs)


class MonthlySplitter(Splitter):
    """Rolling-origin folds by calendar month: each tests one month on every hour before it.

    The origin of a fold is the first hour of its month: its train rows are all the hours before
    (an expanding window), its test rows the hours of the month. Rows are located by their hour
    (`dteday` and `hr`), so the folds hold whatever the data holds, in any order.

    Attributes:
        first_month: the month of the first fold, as `YYYY-MM`.
        n_splits: number of folds: consecutive months from `first_month` on.
    """

    KIND: T.Literal["MonthlySplitter"] = "MonthlySplitter"
    first_month: str = pdt.Field(default="2012-01", pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    n_splits: int = pdt.Field(default=12, ge=1)

    def origins(self) -> list[pd.Timestamp]:
        """Return the origin (first hour) of each fold's month, then the end of the last month."""
        import pandas as pd

        months = pd.period_range(self.first_month, periods=self.n_splits + 1, freq="M")
        return [month.start_time for month in months]

    @T.override
    def split(self, inputs: pd.DataFrame) -> Splits:
        import itertools

        import numpy as np

        from bikes.core.schemas import hours

        stamps = hours(inputs).to_numpy()
        for origin, end in itertools.pairwise(self.origins()):
            train = np.flatnonzero(stamps < origin)
            test = np.flatnonzero((stamps >= origin) & (stamps < end))
            if not len(train) or not len(test):
                month = f"{origin:%Y-%m}"
                missing = "no hour before it to train on" if not len(train) else "no hour in it"
                raise ValueError(f"cannot test month {month}: {missing}")
            yield train, test


SplitterKind = TrainTestSplitter | TimeSeriesSplitter | MonthlySplitter
