"""Tests of the compiled rules of the inputs schema: the same verdicts as pandera, faster."""

from __future__ import annotations

import itertools
import typing as T

import numpy as np
import pandas as pd
import pytest

from bikes.core.errors import DataError
from bikes.core.models import FEATURES
from bikes.serving import encodings, validation

VALID = dict(encodings.EXAMPLE_INPUTS)
# values of a column to try: valid, invalid, of another type, missing (seeded draws mix them)
CANDIDATES: dict[str, list[object]] = {
    "int": [0, 1, 2, 3, 4, 7, 12, 23, 24, 30, -1, 1.0, 2.0, 2.5, True, "3", "x", None],
    "float": [0, 1, 0.0, 0.5, 1.0, -0.1, 1.5, 29.5, 55, float("nan"), float("inf"), "0.5", None],
}


def rules() -> validation.Rules:
    """Return the rules of the request schema, for a model that reads the features."""
    return validation.Rules(validation.RequestSchema, FEATURES)


def pandera_verdict(columns: dict[str, list[object]], rows: int) -> bool:
    """Tell whether pandera accepts the columns (the judge of the batch jobs)."""
    index = pd.RangeIndex(rows, name="instant")
    frame = pd.DataFrame({name: pd.Series(values, index=index) for name, values in columns.items()})
    try:
        validation.RequestSchema.check(frame)
    except DataError:
        return False
    return True


def test_rules_give_pandera_verdicts_on_random_inputs() -> None:
    rng = np.random.default_rng(7)
    fast = rules()
    kinds = {
        name: "float" if name in ("temp", "atemp", "hum", "windspeed") else "int" for name in VALID
    }
    verdicts = []
    for _ in range(120):
        columns: dict[str, list[object]] = {name: [value] for name, value in VALID.items()}
        for name in rng.choice(list(VALID), size=rng.integers(0, 3), replace=False):
            options = CANDIDATES[kinds[name]]
            columns[name] = [options[rng.integers(len(options))]]
        expected = pandera_verdict(columns, 1)
        try:
            checked = fast.check(columns, 1, origin="request")
        except validation.InputsError:
            assert not expected, columns
            verdicts.append(False)
            continue
        assert expected, columns
        assert list(checked) == FEATURES
        assert all(checked[name].dtype.kind in "if" for name in checked)
        verdicts.append(True)
    assert 20 < sum(verdicts) < 100  # both verdicts were drawn often


def test_plainly_valid_inputs_skip_pandera(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = rules()
    columns: dict[str, list[object]] = {name: [value] * 1000 for name, value in VALID.items()}
    columns["dteday"] = ["2012-07-04"] * 1000

    def judge(*_: object) -> T.NoReturn:
        raise AssertionError("pandera was asked")

    monkeypatch.setattr(fast, "judge", judge)
    checked = fast.check(columns, 1000, origin="request")

    assert checked["hr"].dtype == np.int64
    assert checked["temp"].dtype == np.float64
    assert len(checked["temp"]) == 1000


def test_violations_name_the_field_row_and_value_as_sent() -> None:
    columns: dict[str, list[object]] = {name: [value] * 4 for name, value in VALID.items()}
    columns["yr"] = [0, 1, 2, 1]
    columns["temp"] = [0.5, 0.5, 0.5, 1]  # an integer among floats: pandera reports 2.0 for 2
    mistyped: dict[str, list[object]] = {
        **columns,
        "hr": [8, "eight", 8.5, None],
        "yr": [0, 1, 1, 1],
    }

    with pytest.raises(validation.InputsError) as error:
        rules().check(columns, 4, origin="request")
    with pytest.raises(validation.InputsError) as types:
        rules().check(mistyped, 4, origin="request")

    assert [(v.field, v.row, v.value) for v in error.value.violations] == [("yr", 2, 2)]
    assert (
        str(error.value)
        == "request: RequestSchema column 'yr' failed isin([0, 1]) at row 2 (value 2)"
    )
    found = {(v.field, v.row, v.value) for v in types.value.violations}
    assert {("hr", 1, "eight"), ("hr", 3, None)} <= found
    assert "hr" in str(types.value)


def test_missing_columns_and_cells_that_are_not_values_are_refused() -> None:
    columns: dict[str, list[object]] = {name: [value] for name, value in VALID.items()}
    del columns["hr"]
    with pytest.raises(validation.InputsError, match="missing column 'hr'") as error:
        rules().check(columns, 1, origin="request")
    assert error.value.violations == [validation.Violation("hr", None, None, "column_in_dataframe")]

    nested: dict[str, list[object]] = {name: [value] * 2 for name, value in VALID.items()}
    nested["temp"] = [[0.5, 0.6], [0.5]]
    with pytest.raises(validation.InputsError, match="temp"):
        rules().check(nested, 2, origin="request")


def test_violations_of_pandera_failure_cases() -> None:
    failures = pd.DataFrame(
        {
            "schema_context": ["DataFrameSchema", "Column", "Column"],
            "column": [None, "hr", "hr"],
            "check": ["column_in_dataframe", "less_than_or_equal_to(23)", "dtype('int64')"],
            "failure_case": ["yr", np.int64(24), "TypeError(...)"],
            "index": [None, 5, None],
        }
    )

    found = validation.violations(failures)

    assert found == [
        validation.Violation("yr", None, None, "column_in_dataframe"),
        validation.Violation("hr", 5, 24, "less_than_or_equal_to(23)"),
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.int64(3), 3),
        (float("nan"), None),
        (pd.Timestamp("2012-01-01"), "2012-01-01T00:00:00"),
        ("x", "x"),
        ([1], "[1]"),
    ],
)
def test_jsonable(value: object, expected: object) -> None:
    assert validation.jsonable(value) == expected


def test_every_check_kind_of_pandera_is_compiled_or_left_to_pandera() -> None:
    values = np.array([0, 1, 2, 3])
    masks: dict[str, tuple[dict[str, T.Any], list[bool]]] = {
        "isin": ({"allowed_values": [1, 2]}, [True, False, False, True]),
        "notin": ({"forbidden_values": [1]}, [False, True, False, False]),
        "greater_than": ({"min_value": 1}, [True, True, False, False]),
        "less_than": ({"max_value": 2}, [False, False, True, True]),
        "equal_to": ({"value": 2}, [True, True, False, True]),
        "not_equal_to": ({"value": 2}, [False, False, True, False]),
        "in_range": (
            {"min_value": 1, "max_value": 3, "include_min": False, "include_max": True},
            [True, True, False, False],
        ),
    }
    for name, (statistics, failing) in masks.items():
        mask = validation.failing(name, statistics)
        assert mask is not None
        assert mask(values).tolist() == failing, name
    assert validation.failing("str_matches", {"pattern": "x"}) is None


def test_frames_of_several_requests_are_one_frame_in_order() -> None:
    fast = rules()
    parts = [
        fast.check({name: [value] * rows for name, value in VALID.items()}, rows, origin="r")
        for rows in (1, 3)
    ]
    frame = fast.frame(parts)
    assert list(frame.columns) == FEATURES
    assert frame.index.name == "instant"
    assert frame.index.tolist() == [0, 1, 2, 3]
    assert list(itertools.chain(*(part["hr"].tolist() for part in parts))) == frame["hr"].tolist()


def test_cells_of_another_type_are_named_as_sent() -> None:
    hr, temp, date = (
        validation.ColumnRule.of(name, column)
        for name, column in (
            (name, validation.RequestSchema.to_schema().columns[name])
            for name in ("hr", "temp", "dteday")
        )
    )

    assert hr.mistyped([8, 8.0, True, 8.5, "8", None]) == [
        validation.Violation("hr", row, value, "dtype('int64')")
        for row, value in ((3, 8.5), (4, "8"), (5, None))
    ]
    assert [v.row for v in temp.mistyped([0.5, 1, float("nan"), "0.5"])] == [2, 3]
    assert date.mistyped(["x"]) == []  # dates are left to pandera's words
