"""Tests of parsing, merging and validating configs."""

from __future__ import annotations

import typing as T
from pathlib import Path

import pydantic as pdt
import pytest

from bikes import settings
from bikes.core.errors import ConfigError
from bikes.io import configs


class Point(pdt.BaseModel, strict=True, extra="forbid"):
    """A small model to validate."""

    x: int
    y: int = 0


def test_parse_file_reads_yaml_and_json(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("a: 1\nb: {c: two}\n")
    (tmp_path / "b.json").write_text('{"a": 3}')
    merged = configs.merge_configs(
        [configs.parse_file(str(tmp_path / "a.yaml")), configs.parse_file(str(tmp_path / "b.json"))]
    )
    assert configs.to_object(merged) == {"a": 3, "b": {"c": "two"}}


def test_parse_string_takes_mappings_and_dot_lists() -> None:
    assert configs.to_object(configs.parse_string("a.b=1 a.c=x")) == {"a": {"b": 1, "c": "x"}}
    assert configs.to_object(configs.parse_string("{a: {b: 2}}")) == {"a": {"b": 2}}


def test_to_object_resolves_interpolation() -> None:
    config = configs.parse_string("{root: out, path: '${root}/x.parquet'}")
    assert configs.to_object(config)["path"] == "out/x.parquet"


def test_cloud_url_errors_name_the_url() -> None:
    with pytest.raises(ConfigError, match=r"^s3://no-such-bucket-bikes/x.yaml: cannot read"):
        configs.read_text("s3://no-such-bucket-bikes/x.yaml")


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="cannot read config file"):
        configs.parse_file(str(tmp_path / "binary.yaml"))


def test_validate_names_every_field_at_fault() -> None:
    with pytest.raises(ConfigError) as error:
        configs.validate(Point, {"x": "1", "z": 2}, origin="p.yaml")
    message = str(error.value)
    assert message.startswith("p.yaml: ")
    assert "x: Input should be a valid integer" in message
    assert "z: Extra inputs are not permitted" in message
    assert configs.validate(Point, {"x": 1}, origin="p.yaml") == Point(x=1)


def test_dot_list_values_may_hold_spaces() -> None:
    extras = "job.run_config.name=nightly run  job.alias=champion a.b=1 + 2 = 3"
    assert configs.to_object(configs.parse_string(extras)) == {
        "job": {"run_config": {"name": "nightly run"}, "alias": "champion"},
        "a": {"b": "1 + 2 = 3"},
    }


def test_dot_list_must_start_with_a_key() -> None:
    with pytest.raises(ConfigError, match=r"^--extras 'hello a=1': invalid dot-list \('hello' "):
        configs.parse_string("hello a=1")


ENV_VALUE = "hunter2-not-a-real-secret"


@pytest.mark.parametrize(
    ("model", "text"),
    [
        (Point, "{x: '${oc.env:BIKES_TEST_SECRET}'}"),  # a wrong type
        (Point, "{x: 1, token: '${oc.env:BIKES_TEST_SECRET}'}"),  # an unknown field
        (settings.MainSettings, "{job: {KIND: '${oc.env:BIKES_TEST_SECRET}'}}"),  # a wrong tag
        (  # a validator that quotes the value
            settings.MainSettings,
            "{job: {KIND: TrainingJob, metrics: [{KIND: SklearnMetric, "
            "name: '${oc.env:BIKES_TEST_SECRET}'}]}}",
        ),
        (  # a model validator that quotes a value of the model
            settings.MainSettings,
            "{job: {KIND: EvaluationsJob, thresholds: [{metric: '${oc.env:BIKES_TEST_SECRET}', "
            "max: 1.0}]}}",
        ),
    ],
)
def test_config_errors_never_print_values_of_the_environment(
    model: type[T.Any], text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIKES_TEST_SECRET", ENV_VALUE)
    obj = configs.to_object(configs.parse_string(text))
    with pytest.raises(ConfigError) as error:
        configs.validate(model, obj, origin="c.yaml")
    message = str(error.value)
    assert message.startswith("c.yaml: ")
    assert ENV_VALUE not in message


def test_config_errors_print_the_values_written_in_the_config() -> None:
    obj = configs.to_object(configs.parse_string("{job: {KIND: Trainingjob}}"))
    with pytest.raises(ConfigError, match="^c.yaml: job: Input tag 'Trainingjob' found using"):
        configs.validate(settings.MainSettings, obj, origin="c.yaml")


def test_values_of_the_environment_are_plain_strings_once_valid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BIKES_TEST_SECRET", ENV_VALUE)
    obj = configs.to_object(configs.parse_string("{tags: {user: '${oc.env:BIKES_TEST_SECRET}'}}"))
    valid = configs.validate(dict[str, dict[str, T.Any]], obj, origin="c.yaml")
    assert type(valid["tags"]["user"]) is str
    assert valid == {"tags": {"user": ENV_VALUE}}
