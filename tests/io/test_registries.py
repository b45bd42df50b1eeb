"""Tests of the savers, loaders and registers of models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow.pyfunc.model import PythonModel
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from bikes.core import schemas
from bikes.core.errors import DataError
from bikes.core.models import BaselineSklearnModel, GradientBoostingModel, Model
from bikes.io import registries, services
from bikes.utils import signers

Registered = dict[str, str]


def halve(values: pd.DataFrame) -> pd.DataFrame:
    """A function of this test module: not a stock type."""
    return values / 2


def fitted(model: Model, prepared: dict[str, Path]) -> tuple[Model, pd.DataFrame]:
    inputs = schemas.InputsSchema.check(pd.read_parquet(prepared["inputs_train"]))
    targets = schemas.TargetsSchema.check(pd.read_parquet(prepared["targets_train"]))
    with threadpool_limits(limits=1):  # OpenMP threads thrash on busy cores
        return model.fit(inputs, targets), inputs


def test_uris() -> None:
    assert registries.uri_for_model_alias("bikes", "champion") == "models:/bikes@champion"
    assert registries.uri_for_model_version("bikes", 3) == "models:/bikes/3"


@pytest.mark.parametrize(
    "model",
    [
        GradientBoostingModel(max_iter=3),
        GradientBoostingModel(max_iter=3, target="log", categorical_features=["hr"]),
        BaselineSklearnModel(n_estimators=2, max_depth=3),
    ],
    ids=["boosting", "boosting-log-categorical", "forest"],
)
def test_trusted_types_are_the_stock_types_of_the_pipeline(
    model: Model, prepared: dict[str, Path]
) -> None:
    model, _ = fitted(model, prepared)

    types = registries.trusted_types(model.get_internal_model())

    assert types, "tree models hold types that skops does not trust by default"
    assert all(registries.is_stock(name) for name in types), types


def test_trusted_types_refuse_a_foreign_type() -> None:
    pipeline = Pipeline([("halve", FunctionTransformer(halve))])

    with pytest.raises(ValueError, match="not stock: .*halve"):
        registries.trusted_types(pipeline)


def test_model_columns_are_those_the_pipeline_reads(prepared: dict[str, Path]) -> None:
    model, inputs = fitted(GradientBoostingModel(max_iter=3), prepared)
    columns = list(inputs.columns)

    used = registries.model_columns(model.get_internal_model(), columns)

    assert "dteday" in columns
    assert used == [column for column in columns if column != "dteday"]
    other = Pipeline([("halve", FunctionTransformer(halve))])
    assert registries.model_columns(other, columns) == columns
    masked = Pipeline([("select", ColumnTransformer([("all", "passthrough", lambda x: [0])]))])
    masked.fit(inputs[["hr"]])
    assert registries.model_columns(masked, ["hr"]) == ["hr"]


def test_registered_model_is_the_tests_own_copy(
    registered_model: Registered, isolated: Path
) -> None:
    client = mlflow.MlflowClient()
    run = client.get_run(registered_model["run_id"])
    download = client.get_model_version_download_uri("bikes", registered_model["version"])

    assert mlflow.get_tracking_uri() == f"sqlite:///{isolated / 'mlflow.db'}"
    assert mlflow.get_registry_uri() == mlflow.get_tracking_uri()
    assert str(isolated / "mlruns") in run.info.artifact_uri
    assert str(isolated / "mlruns") in download
    assert (isolated / "mlruns").is_dir()


def test_loader_by_alias_and_version(
    registered_model: Registered, prepared: dict[str, Path]
) -> None:
    inputs = pd.read_parquet(prepared["inputs_test"])
    loader = registries.SklearnLoader()

    by_alias = loader.load(registered_model["uri"])
    by_version = loader.load(registries.uri_for_model_version("bikes", registered_model["version"]))

    assert (by_alias.name, by_alias.version) == ("bikes", registered_model["version"])
    assert by_alias.run_id == registered_model["run_id"]
    assert isinstance(by_alias.pipeline, Pipeline)
    assert "version='1'" in repr(by_alias)
    outputs = by_alias.predict(inputs)
    assert list(outputs.columns) == ["prediction"]
    assert outputs.index.equals(inputs.index)
    assert (outputs["prediction"] >= 0).all()
    pd.testing.assert_frame_equal(outputs, by_version.predict(inputs))


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("models:/bikes@nope", "models:/bikes@nope: model not found"),
        ("models:/bikes/99", "models:/bikes/99: model not found"),
        ("models:/other@champion", "models:/other@champion: model not found"),
        ("models:/bikes/latest", "expected models:/<name>@<alias>"),
        ("runs:/0123456789abcdef/model", "runs:/0123456789abcdef/model: cannot read the model"),
    ],
)
def test_loader_names_a_missing_model(registered_model: Registered, uri: str, message: str) -> None:
    with pytest.raises(DataError, match=message) as error:
        registries.SklearnLoader().load(uri)

    assert "\n" not in str(error.value)


def test_loader_refuses_a_model_that_trusts_foreign_types(prepared: dict[str, Path]) -> None:
    model, _ = fitted(GradientBoostingModel(max_iter=3), prepared)
    pipeline = model.get_internal_model()
    trusted = [*registries.trusted_types(pipeline), "builtins.exec"]
    mlflow.sklearn.save_model(
        pipeline,
        "tampered",
        serialization_format="skops",
        skops_trusted_types=trusted,
        pip_requirements=[],  # not inferred: MLflow would load the model in a subprocess
    )

    with pytest.raises(DataError, match=r"tampered: .*not stock: \['builtins.exec'\]"):
        registries.SklearnLoader().load("tampered")


def test_loader_refuses_a_model_of_another_flavor(tracking_uri: str) -> None:
    class Constant(PythonModel):
        def predict(
            self, context: object, model_input: list[str], params: dict[str, object] | None = None
        ) -> list[str]:
            return model_input

    mlflow.pyfunc.save_model("constant", python_model=Constant(), pip_requirements=[])

    with pytest.raises(DataError, match="constant: not a scikit-learn model"):
        registries.SklearnLoader().load("constant")


def test_saver_logs_a_small_signed_model_and_register_tags_it(
    prepared: dict[str, Path], tracking_uri: str
) -> None:
    model, inputs = fitted(GradientBoostingModel(max_iter=3), prepared)
    outputs = model.predict(inputs)
    signature = signers.InferSigner().sign(inputs, outputs)
    register = registries.MlflowRegister(tags={"team": "bikes"})
    services.MlflowService().start()  # a job of another test may have set another store

    with mlflow.start_run():
        info = registries.SklearnSaver(example_rows=3).save(model, signature, inputs)
    version = register.register("bikes", info.model_uri, tags={"data_digest": "abc"})

    assert version.number == 1
    assert version.tags == {"team": "bikes", "data_digest": "abc"}
    local = Path(mlflow.artifacts.download_artifacts(info.model_uri))
    flavor = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["sklearn"]
    assert flavor["serialization_format"] == "skops"
    assert flavor["skops_trusted_types"] == registries.trusted_types(model.get_internal_model())
    example = json.loads((local / "input_example.json").read_text())
    assert len(example["data"]) == 3
    requirements = (local / "requirements.txt").read_text()
    assert "scikit-learn==" in requirements
    assert "skops==" in requirements


def fresh_environment(shadow: Path) -> dict[str, str]:
    """Return an environment for stock MLflow in fresh processes, where `import bikes` fails.

    PYTHON* variables are dropped, but PYTHONPATH puts a `bikes` package that raises first (in
    `shadow`): the model must load without the project's code. The tests' interpreter comes first
    on PATH: `mlflow models serve` starts `uvicorn` by name, and must find the one of this
    environment even when pytest runs as `.venv/bin/pytest` without the venv activated.
    """
    package = shadow / "bikes"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('raise ImportError("the model must not need bikes")\n')
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env["PYTHONPATH"] = str(shadow)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return env


def test_saved_model_predicts_csv_like_the_mlflow_cli(
    registered_model: Registered, prepared: dict[str, Path], tmp_path: Path
) -> None:
    # `mlflow models predict --env-manager local` runs this function (in ~10 s more of start-up)
    inputs = pd.read_parquet(prepared["inputs_test"]).head(20)
    inputs.to_csv(tmp_path / "inputs.csv")  # dteday becomes a string: not in the signature

    mlflow.models.predict(  # type: ignore[no-untyped-call]
        model_uri=registered_model["uri"],
        input_path=str(tmp_path / "inputs.csv"),
        content_type="csv",
        output_path=str(tmp_path / "predictions.json"),
        env_manager="local",
    )

    predictions = json.loads((tmp_path / "predictions.json").read_text())["predictions"]
    expected = registries.SklearnLoader().load(registered_model["uri"]).pipeline.predict(inputs)
    assert predictions == pytest.approx(list(expected))


@pytest.mark.slow
def test_saved_model_is_served_by_stock_mlflow_without_bikes(
    registered_model: Registered, prepared: dict[str, Path], tmp_path: Path
) -> None:
    import socket
    import time
    import urllib.request

    env = fresh_environment(tmp_path / "shadow")
    blocked = subprocess.run(
        [sys.executable, "-c", "import bikes"], env=env, capture_output=True, text=True, check=False
    )
    assert "the model must not need bikes" in blocked.stderr  # the server cannot import bikes
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serve = ["mlflow", "models", "serve", "-m", registered_model["uri"], "--env-manager", "local"]
    server = subprocess.Popen(
        [sys.executable, "-m", *serve, "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):  # up to 60 s for the server to answer
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
                time.sleep(0.5)
        inputs = pd.read_parquet(prepared["inputs_test"]).head(7).drop(columns="dteday")
        body = json.dumps({"dataframe_split": inputs.to_dict(orient="split")}).encode()
        request = urllib.request.Request(
            f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            predictions = json.loads(response.read())["predictions"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    expected = registries.SklearnLoader().load(registered_model["uri"]).pipeline.predict(inputs)
    assert predictions == pytest.approx(list(expected))
