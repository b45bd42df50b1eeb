"""Tests of the serving app: the real app under uvicorn on a free loopback port, real registry."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import socket
import threading
import time
import typing as T
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

if T.TYPE_CHECKING:
    import fastapi

HOST = "127.0.0.1"


class Answer(T.NamedTuple):
    """A response: status, headers and body (JSON when it is)."""

    status: int
    headers: dict[str, str]
    body: T.Any


def free_port() -> int:
    """Return a free TCP port of the loopback interface."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def call(url: str, body: object = None, timeout: float = 30.0) -> Answer:
    """GET a URL, or POST a JSON body to it; return the answer (errors included)."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
            found = {key.lower(): value for key, value in response.headers.items()}
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
        found = {key.lower(): value for key, value in error.headers.items()}
    kind = found.get("content-type", "")
    return Answer(status, found, json.loads(raw) if "json" in kind else raw.decode())


def wait_ready(url: str, seconds: float = 60.0) -> Answer:
    """Wait until the server at `url` is ready (bounded); return its last readiness answer."""
    deadline = time.monotonic() + seconds
    answer = Answer(0, {}, None)
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            answer = call(f"{url}/health/ready", timeout=2.0)
            if answer.status == 200:
                return answer
        time.sleep(0.05)
    return answer


@contextlib.contextmanager
def running(app: fastapi.FastAPI) -> T.Iterator[str]:
    """Run an app with uvicorn in a thread on a free loopback port; yield its URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host=HOST, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30.0
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30.0)


Serve = T.Callable[..., T.ContextManager[str]]


@pytest.fixture
def serve() -> Serve:
    """Return a function serving the registry of the test (settings as keywords)."""
    from bikes.serving.app import Settings

    def start(**settings: T.Any) -> T.ContextManager[str]:
        return running(Settings(**{"poll_seconds": 0.1, **settings}).app())

    return start


Registered = dict[str, str]
HOUR = {
    "timestamp": "2011-03-02T08:00:00",
    "temperature": 12.0,
    "feels_like": 10.5,
    "humidity": 60,
    "wind_speed": 13.0,
    "weather": "mist",
}
NONSENSE = [  # stock `mlflow models serve` answers 200 to each of them
    ("yr", 2, "isin([0, 1])"),
    ("temp", 29.5, "less_than_or_equal_to(1)"),
    ("hum", 55, "less_than_or_equal_to(1)"),
    ("hr", 30, "less_than_or_equal_to(23)"),
    ("weathersit", 7, "less_than_or_equal_to(4)"),
]


def sample_inputs(prepared: dict[str, Path], rows: int = 3) -> pd.DataFrame:
    """Return the first test inputs, without the date (as MLflow clients send them)."""
    return pd.read_parquet(prepared["inputs_test"]).head(rows).drop(columns="dteday")


def split(inputs: pd.DataFrame) -> dict[str, T.Any]:
    """Return inputs as a `dataframe_split` body."""
    frame = inputs.to_dict(orient="split")
    return {"dataframe_split": {"columns": frame["columns"], "data": frame["data"]}}


def test_every_endpoint_answers_with_the_model_version(
    registered_model: Registered, prepared: dict[str, Path], serve: Serve
) -> None:
    version = int(registered_model["version"])
    inputs = sample_inputs(prepared)
    records = inputs.to_dict(orient="records")
    bodies = [
        split(inputs),
        {"dataframe_records": records},
        {"inputs": inputs.to_dict(orient="list")},
        {"inputs": records},
    ]
    with serve() as url:
        assert wait_ready(url).body == {"status": "ready", "version": version}
        assert call(f"{url}/health/live").body == {"status": "alive"}
        answers = [call(f"{url}/invocations", body) for body in bodies]
        forecast = call(f"{url}/forecast", {"hours": [HOUR, {**HOUR, "holiday": True}]})
        card = call(f"{url}/model")
        metrics = call(f"{url}/metrics")
        docs, openapi = call(f"{url}/docs"), call(f"{url}/openapi.json")

    model = {"name": "bikes", "version": version, "alias": "champion"}
    for answer in answers:
        assert answer.status == 200, answer.body
        assert answer.body["model"] == model
        assert answer.headers["x-model-version"] == str(version)
        assert answer.body["predictions"] == answers[0].body["predictions"]
    assert len(answers[0].body["predictions"]) == 3
    assert min(answers[0].body["predictions"]) >= 0
    points, lows, highs = (answers[0].body[f"predictions{end}"] for end in ("", "_lower", "_upper"))
    assert all(
        0 <= low <= point <= high for low, point, high in zip(lows, points, highs, strict=True)
    )
    assert forecast.status == 200, forecast.body
    assert all(
        0 <= hour["prediction_lower"] <= hour["prediction"] <= hour["prediction_upper"]
        for hour in forecast.body["forecasts"]
    )
    assert forecast.body["model"] == model
    assert [hour["timestamp"] for hour in forecast.body["forecasts"]] == [HOUR["timestamp"]] * 2
    assert card.body["version"] == version
    assert card.body["run_id"] == registered_model["run_id"]
    assert "test_rmse" in card.body["metrics"]
    assert not [name for name in card.body["metrics"] if name.startswith("system/")]
    names = [column["name"] for column in card.body["signature"]["inputs"]]
    assert "hr" in names
    assert "dteday" not in names
    assert 'bikes_requests_total{endpoint="/invocations",method="POST",status="200"} 4.0' in (
        metrics.body
    )
    assert f'bikes_model_version{{alias="champion",name="bikes"}} {version}.0' in metrics.body
    assert 'bikes_request_duration_seconds_bucket{endpoint="/forecast",le="0.005"}' in metrics.body
    assert 'bikes_model_loads_total{outcome="loaded"} 1.0' in metrics.body
    assert docs.status == 200
    assert "swagger" in docs.body.lower()
    schemas = openapi.body["components"]["schemas"]
    assert "requestBody" in openapi.body["paths"]["/invocations"]["post"]
    assert schemas["Hour"]["properties"]["temperature"]["description"] == "air temperature, in °C"
    assert schemas["Hour"]["examples"]
    assert "422" in openapi.body["paths"]["/forecast"]["post"]["responses"]


def test_the_examples_of_the_docs_answer(registered_model: Registered, serve: Serve) -> None:
    from bikes.serving import schemas

    examples = [
        ("/invocations", name, example["value"])
        for name, example in schemas.INVOCATION_EXAMPLES.items()
    ] + [
        ("/forecast", name, example["value"]) for name, example in schemas.FORECAST_EXAMPLES.items()
    ]
    with serve() as url:
        wait_ready(url)
        statuses = {name: call(f"{url}{path}", body).status for path, name, body in examples}

    assert statuses == {
        "dataframe_split": 200,
        "dataframe_records": 200,
        "inputs": 200,
        "nonsense": 422,
        "timestamp": 200,
        "date and hour": 200,
    }


def test_nonsense_answers_422_naming_field_row_and_value(
    registered_model: Registered, prepared: dict[str, Path], serve: Serve
) -> None:
    inputs = sample_inputs(prepared)
    with serve() as url:
        wait_ready(url)
        answers = {}
        for column, value, _ in NONSENSE:
            bad = inputs.astype(object)
            bad.loc[bad.index[2], column] = value
            answers[column] = call(f"{url}/invocations", split(bad))
        metrics = call(f"{url}/metrics").body

    for column, value, rule in NONSENSE:
        answer = answers[column]
        assert answer.status == 422
        assert "predictions" not in answer.body
        assert answer.body["violations"] == [
            {"field": column, "row": 2, "value": value, "rule": rule}
        ]
        assert f"column '{column}' failed {rule} at row 2" in answer.body["detail"]
    assert 'bikes_request_errors_total{endpoint="/invocations",reason="invalid"} 5.0' in metrics


def test_malformed_requests_answer_422_or_413(
    registered_model: Registered, prepared: dict[str, Path], serve: Serve
) -> None:
    inputs = sample_inputs(prepared)
    text = inputs.astype(object)
    text.loc[text.index[1], "hr"] = "eight"
    short = split(inputs)
    short["dataframe_split"]["data"][1] = short["dataframe_split"]["data"][1][:-1]
    with serve(max_rows=2) as url:
        wait_ready(url)
        wrong_type = call(f"{url}/invocations", split(text.head(2)))
        missing = call(f"{url}/invocations", split(inputs.drop(columns="hr").head(2)))
        unknown = call(f"{url}/invocations", {"instances": [[1, 2]]})
        ragged = call(f"{url}/invocations", {"dataframe_split": short["dataframe_split"]})
        large = call(f"{url}/invocations", split(inputs))
        empty = call(f"{url}/invocations", split(inputs.head(0)))
        broken = urllib.request.Request(
            f"{url}/invocations", data=b'{"dataframe_records": [', method="POST"
        )
        broken.add_header("Content-Type", "application/json")
        with pytest.raises(urllib.error.HTTPError) as invalid_json:
            urllib.request.urlopen(broken, timeout=10)

    assert wrong_type.status == 422
    assert {"field": "hr", "row": 1, "value": "eight"} in [
        {key: found[key] for key in ("field", "row", "value")}
        for found in wrong_type.body["violations"]
    ]
    assert missing.status == 422
    assert missing.body["violations"][0]["field"] == "hr"
    assert "missing column 'hr'" in missing.body["detail"]
    assert unknown.status == 422
    assert "dataframe_split, dataframe_records, inputs" in unknown.body["detail"]
    assert ragged.status == 422  # too many rows is checked after the shape
    assert large.status == 413
    assert "2 at most" in large.body["detail"]
    assert empty.status == 422
    assert "no rows" in empty.body["detail"]
    assert invalid_json.value.code == 422
    assert json.loads(invalid_json.value.read())["violations"][0]["row"] is None


def test_forecast_refuses_values_outside_the_data_naming_the_request_field(
    registered_model: Registered, serve: Serve
) -> None:
    hours = [
        HOUR,
        {**HOUR, "temperature": 60},  # the data holds -8..39 °C
        {**HOUR, "weather": "fog"},
    ]
    with serve() as url:
        wait_ready(url)
        out_of_range = call(f"{url}/forecast", {"hours": hours})
        later = call(
            f"{url}/forecast", {"hours": [HOUR, {**HOUR, "timestamp": "2025-06-01T08:00"}]}
        )
        both = call(f"{url}/forecast", {"hours": [{**HOUR, "date": "2011-03-02", "hour": 8}]})
        empty = call(f"{url}/forecast", {"hours": []})

    assert out_of_range.status == 422
    fields = [(v["field"], v["row"], v["value"]) for v in out_of_range.body["violations"]]
    assert fields == [("temperature", 1, 60), ("weather", 2, "fog")]
    assert later.status == 422
    assert later.body["violations"] == [
        {"field": "timestamp", "row": 1, "value": "2025-06-01T08:00:00", "rule": "yr isin([0, 1])"}
    ]
    assert "hours[1].timestamp" in later.body["detail"]
    assert both.status == 422
    assert "either timestamp, or date and hour" in both.body["detail"]
    assert empty.status == 422


def test_forecast_encodes_hours_as_the_model_reads_them(
    registered_model: Registered, serve: Serve
) -> None:
    from bikes.serving import encodings

    encoded = {  # HOUR in the model's encodings: a Wednesday of winter 2011, not a holiday
        "season": 1,
        "yr": 0,
        "mnth": 3,
        "hr": 8,
        "holiday": 0,
        "weekday": 3,
        "workingday": 1,
        "weathersit": 2,
        "temp": (12.0 + 8) / 47,
        "atemp": (10.5 + 16) / 66,
        "hum": 0.6,
        "windspeed": 13.0 / 67,
    }
    assert set(encoded) == set(encodings.EXAMPLE_INPUTS)
    local = {**HOUR, "timestamp": "2011-03-02T13:30:00+00:00"}  # 8:30 in Washington
    by_date = {
        **{k: v for k, v in HOUR.items() if k != "timestamp"},
        "date": "2011-03-02",
        "hour": 8,
    }
    with serve() as url:
        wait_ready(url)
        forecast = call(f"{url}/forecast", {"hours": [HOUR, local, by_date]})
        direct = call(f"{url}/invocations", {"dataframe_records": [encoded]})

    predictions = [hour["prediction"] for hour in forecast.body["forecasts"]]
    assert predictions == pytest.approx(direct.body["predictions"] * 3, rel=1e-12)
    assert [hour["timestamp"] for hour in forecast.body["forecasts"]] == [HOUR["timestamp"]] * 3


def test_a_model_without_intervals_serves_and_infers_without_bounds(
    registered_model: Registered, prepared: dict[str, Path], serve: Serve
) -> None:
    from bikes import jobs
    from bikes.core.models import GradientBoostingModel

    with jobs.TrainingJob(model=GradientBoostingModel(max_iter=5), intervals=None) as runner:
        version = runner.run().version  # as registered before the intervals
    with jobs.InferenceJob(version=version) as runner:
        runner.run()
    with jobs.EvaluationsJob(alias_or_version=version, thresholds=[]) as runner:
        scores = runner.run().scores
    with serve(version=version) as url:
        wait_ready(url)
        answer = call(f"{url}/invocations", split(sample_inputs(prepared)))
        forecast = call(f"{url}/forecast", {"hours": [HOUR]})

    outputs = pd.read_parquet("outputs/predictions.parquet")
    assert list(outputs.columns) == ["prediction", "timestamp", "model_version"]
    assert "root_mean_squared_error" in scores and "coverage" not in scores
    assert answer.status == forecast.status == 200
    assert answer.body["predictions"] == outputs["prediction"].head(3).tolist()
    assert answer.body["predictions_lower"] is answer.body["predictions_upper"] is None
    assert forecast.body["forecasts"][0]["prediction"] >= 0
    assert forecast.body["forecasts"][0]["prediction_lower"] is None


def test_same_predictions_as_the_batch_inference_job(
    registered_model: Registered, prepared: dict[str, Path], serve: Serve
) -> None:
    from bikes import jobs

    with jobs.InferenceJob() as runner:
        runner.run()
    written = pd.read_parquet("outputs/predictions.parquet")
    expected = written["prediction"].tolist()
    inputs = pd.read_parquet(prepared["inputs_test"])
    inputs["dteday"] = inputs["dteday"].dt.strftime("%Y-%m-%d")  # the date is checked when sent
    parts = [inputs.iloc[:1], inputs.iloc[1:40], inputs.iloc[40:41], inputs.iloc[41:]]
    with serve() as url:
        wait_ready(url)
        whole = call(f"{url}/invocations", split(inputs))
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:  # batched together
            answers = list(pool.map(lambda part: call(f"{url}/invocations", split(part)), parts))

    assert whole.body["predictions"] == expected  # exactly: same pipeline, same float64 inputs
    assert whole.body["predictions_lower"] == written["prediction_lower"].tolist()
    assert whole.body["predictions_upper"] == written["prediction_upper"].tolist()
    assert [p for answer in answers for p in answer.body["predictions"]] == expected


def test_not_ready_until_the_alias_exists_then_ready_without_restart(
    registered_model: Registered, serve: Serve
) -> None:
    from bikes.io import services

    with serve(alias="canary") as url:
        live, ready = call(f"{url}/health/live"), call(f"{url}/health/ready")
        refused = call(f"{url}/invocations", {"dataframe_records": [HOUR]})
        card = call(f"{url}/model")
        registry = services.MlflowService().registry()
        registry.move_alias("canary", registry.version(1), reason="test")
        became = wait_ready(url, seconds=30)
        model = call(f"{url}/model").body

    assert live.status == 200
    assert ready.status == 503
    assert "models:/bikes@canary: no version holds the alias" in ready.body["detail"]
    assert refused.status == 503
    assert refused.headers["retry-after"] == "1"
    assert card.status == 503
    assert became.status == 200
    assert (model["version"], model["alias"]) == (1, "canary")


def test_a_pinned_version_ignores_the_alias(registered_model: Registered, serve: Serve) -> None:
    with serve(version=1, alias="nowhere") as url:
        ready = wait_ready(url)
        card = call(f"{url}/model").body

    assert ready.status == 200
    assert (card["version"], card["alias"]) == (1, None)


def second_version() -> int:
    """Train and register a second, different version (no alias); return its number."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    from bikes import jobs
    from bikes.core.models import GradientBoostingModel

    job = jobs.TrainingJob(model=GradientBoostingModel(max_iter=5))
    with threadpool_limits(limits=1), job as runner:
        return runner.run().version


@pytest.mark.slow
@pytest.mark.integration
def test_alias_moves_under_load_fail_no_request_nor_mix_versions(
    registered_model: Registered, prepared: dict[str, Path], serve: Serve
) -> None:
    from bikes.io import registries, services

    second = second_version()
    registry = services.MlflowService().registry()
    inputs = sample_inputs(prepared, rows=1)
    expected = {
        number: registries.SklearnLoader().load(f"models:/bikes/{number}").predict(inputs)
        for number in (1, second)
    }
    predictions = {number: float(frame["prediction"].iloc[0]) for number, frame in expected.items()}
    assert predictions[1] != predictions[second]
    answers: list[Answer] = []
    stop = threading.Event()

    def load(url: str) -> None:
        for _ in range(400):  # bounded: 400 requests a thread at most
            if stop.is_set():
                return
            answers.append(call(f"{url}/invocations", split(inputs)))

    with serve(poll_seconds=0.05) as url:
        wait_ready(url)
        threads = [threading.Thread(target=load, args=(url,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        seen = []
        for move in range(4):  # 1 -> 2 -> 1 -> 2 -> 1
            target = second if move % 2 == 0 else 1
            registry.move_alias("champion", registry.version(target), reason="test")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and wait_ready(url).body["version"] != target:
                time.sleep(0.02)
            seen.append(wait_ready(url).body["version"])
            time.sleep(0.2)  # requests answered by this version
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

    assert seen == [second, 1, second, 1]
    assert len(answers) > 20
    assert [answer.status for answer in answers if answer.status != 200] == []
    versions = {answer.body["model"]["version"] for answer in answers}
    assert versions == {1, second}
    for answer in answers:  # each prediction is that of the version that answered
        version = answer.body["model"]["version"]
        assert answer.body["predictions"] == [predictions[version]]


@pytest.mark.slow
def test_a_version_that_fails_to_load_leaves_the_old_one_serving(
    registered_model: Registered, prepared: dict[str, Path], serve: Serve, isolated: Path
) -> None:
    from bikes.io import services

    before = set(isolated.glob("mlruns/**/model.skops"))
    second = second_version()
    (broken,) = set(isolated.glob("mlruns/**/model.skops")) - before
    broken.write_bytes(b"not a model")
    registry = services.MlflowService().registry()
    inputs = sample_inputs(prepared, rows=1)
    with serve(poll_seconds=0.05) as url:
        wait_ready(url)
        registry.move_alias("champion", registry.version(second), reason="test")
        deadline = time.monotonic() + 30
        metrics = ""
        while time.monotonic() < deadline and 'outcome="failed"' not in metrics:
            metrics = call(f"{url}/metrics").body
            time.sleep(0.05)
        answer = call(f"{url}/invocations", split(inputs))
        ready = call(f"{url}/health/ready")

    assert 'bikes_model_loads_total{outcome="failed"}' in metrics
    assert answer.status == 200
    assert answer.body["model"]["version"] == 1
    assert ready.body["version"] == 1
