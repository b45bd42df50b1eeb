"""Tests of parsing, merging and validating configs."""

from __future__ import annotations

from pathlib import Path

import pydantic as pdt
import pytest

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
