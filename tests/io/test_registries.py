"""Tests of the savers, loaders and registers of models."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import subprocess
import sys
import typing as T
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import skops.io  # type: ignore[import-untyped]
import yaml
from loguru import logger
from mlflow.pyfunc.model import PythonModel
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from bikes import scripts
from bikes.core import schemas
from bikes.core.errors import DataError
from bikes.core.models import GradientBoostingModel, Model
from bikes.io import registries, services, trust
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


class Touch:
    """A pickle payload: unpickling it creates a file, as it could run any code."""

    def __init__(self, path: Path) -> None:
        """Keep the path of the file to create."""
        self.path = path

    def __reduce__(self) -> tuple[T.Callable[[Path], None], tuple[Path]]:
        """Be unpickled as a call of `Path.touch`."""
        return (Path.touch, (self.path,))


def stealing_pipeline(sentinel: Path) -> Pipeline:
    """A pipeline of stock types that writes its inputs to `sentinel` when it predicts."""
    steal = FunctionTransformer(functools.partial(np.savetxt, str(sentinel)))  # stateless
    regressor = DummyRegressor().fit([[0.0]], [0.0])  # fitted alone: steal must not run yet
    return Pipeline([("steal", steal), ("regressor", regressor)])


def edit_flavor(folder: Path, **fields: T.Any) -> None:
    """Edit fields of the sklearn flavor of a saved model's MLmodel file (None drops a field)."""
    metadata = yaml.safe_load((folder / "MLmodel").read_text())
    flavor = metadata["flavors"]["sklearn"]
    flavor.update(fields)
    metadata["flavors"]["sklearn"] = {
        key: value for key, value in flavor.items() if value is not None
    }
    (folder / "MLmodel").write_text(yaml.safe_dump(metadata))


def craft(kind: str, sentinel: Path, folder: Path) -> Path:
    """Save a malicious model of a kind in `folder`: loading or running it creates `sentinel`."""
    save = functools.partial(mlflow.sklearn.save_model, path=str(folder), pip_requirements=[])
    if kind in ("pickle", "cloudpickle"):
        save(Touch(sentinel), serialization_format=kind)
    elif kind == "no-format":  # MLflow reads a model without serialization_format as a pickle
        save(Touch(sentinel), serialization_format="pickle")
        edit_flavor(folder, serialization_format=None)
    elif kind.startswith("savetxt"):  # the MLmodel file trusts what the file holds...
        pipeline = stealing_pipeline(sentinel)
        types = skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))
        save(pipeline, serialization_format="skops", skops_trusted_types=types)
        if kind == "savetxt-claims-allowed":  # ...or claims to trust only allowed types
            edit_flavor(folder, skops_trusted_types=sorted(trust.TRUSTED_TYPES))
    elif kind == "pickle-as-skops":  # a pickle in place of the file of an honest skops model
        save(DummyRegressor(), serialization_format="skops")
        (folder / "model.skops").write_bytes(pickle.dumps(Touch(sentinel)))
    return folder


def register_folder(folder: Path) -> str:
    """Log a model folder as the artifacts of a run, register it as a version; return it."""
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(folder), "model")
    return str(mlflow.register_model(f"runs:/{run.info.run_id}/model", "bikes").version)


@pytest.fixture
def store(tracking_uri: str) -> str:
    """Point MLflow at the test's own store: a job of another test may have set another one."""
    services.MlflowService().start()
    return tracking_uri


def test_uris() -> None:
    assert registries.uri_for_model_alias("bikes", "champion") == "models:/bikes@champion"
    assert registries.uri_for_model_version("bikes", 3) == "models:/bikes/3"


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
    with mlflow.start_run() as written:  # in the template's experiment
        mlflow.log_text("mine", "note.txt")

    for uri in (run.info.artifact_uri, download, written.info.artifact_uri):  # through a link
        assert Path(uri.removeprefix("file://")).resolve().is_relative_to(isolated / "mlruns")
    assert (isolated / "mlruns").is_dir()


def test_loader_by_alias_and_version(
    registered_model: Registered, prepared: dict[str, Path]
) -> None:
    inputs = pd.read_parquet(prepared["inputs_test"])
    loader = registries.SklearnLoader()

    by_alias = loader.load(registered_model["uri"])
    by_version = loader.load(registries.uri_for_model_version("bikes", registered_model["version"]))

    assert (by_alias.name, by_alias.version) == ("bikes", int(registered_model["version"]))
    assert isinstance(by_alias.pipeline, Pipeline)
    assert "version=1" in repr(by_alias)
    outputs = by_alias.predict(inputs)
    assert list(outputs.columns) == ["prediction", "prediction_lower", "prediction_upper"]
    assert outputs.index.equals(inputs.index)
    assert (outputs["prediction_lower"] >= 0).all()
    assert (outputs["prediction_lower"] <= outputs["prediction"]).all()
    assert (outputs["prediction"] <= outputs["prediction_upper"]).all()
    pd.testing.assert_frame_equal(outputs, by_version.predict(inputs))


def model_file(version: str) -> Path:
    """Return the model file of a registered version, in the test's artifact store."""
    folder = mlflow.MlflowClient().get_model_version_download_uri("bikes", version)
    return Path(folder.removeprefix("file://")) / "model.skops"


def test_training_registers_the_sha256_of_the_model_file(registered_model: Registered) -> None:
    version = mlflow.MlflowClient().get_model_version("bikes", registered_model["version"])

    digest = hashlib.sha256(model_file(registered_model["version"]).read_bytes()).hexdigest()
    assert version.tags[registries.DIGEST_TAG] == digest


def test_loader_refuses_a_model_file_changed_after_registration(
    registered_model: Registered, prepared: dict[str, Path]
) -> None:
    other, _ = fitted(GradientBoostingModel(max_iter=2), prepared)  # a valid model, not this one
    skops.io.dump(other.get_internal_model(), model_file(registered_model["version"]))

    with pytest.raises(DataError, match="changed after registration") as error:
        registries.SklearnLoader().load(registered_model["uri"])

    message = str(error.value)
    assert message.startswith("models:/bikes@champion (version 1): refused to load: the SHA-256")
    assert f"{registries.DIGEST_TAG} of version 1" in message


def test_loader_warns_once_about_a_version_without_sha256(
    registered_model: Registered, prepared: dict[str, Path]
) -> None:
    mlflow.MlflowClient().delete_model_version_tag("bikes", "1", registries.DIGEST_TAG)
    warnings: list[str] = []
    handler = logger.add(warnings.append, level="WARNING", format="{message}")
    try:
        model = registries.SklearnLoader().load(registered_model["uri"])
    finally:
        logger.remove(handler)

    assert [line.strip() for line in warnings] == [
        f"models:/bikes@champion (version 1): no {registries.DIGEST_TAG} tag, the model file is"
        " not verified"
    ]
    assert len(model.predict(pd.read_parquet(prepared["inputs_test"]))) > 0


def test_registered_model_loads_with_stock_mlflow(
    registered_model: Registered, prepared: dict[str, Path]
) -> None:
    inputs = pd.read_parquet(prepared["inputs_test"]).drop(columns="dteday")

    stock = mlflow.pyfunc.load_model(registered_model["uri"]).predict(inputs)

    loaded = registries.SklearnLoader().load(registered_model["uri"])
    assert loaded.intervals is not None  # a model with intervals: stock MLflow ignores them
    assert list(stock) == pytest.approx(loaded.predict(inputs)["prediction"].tolist())


@pytest.mark.parametrize("change", ["margins", "removed", "added"])
def test_loader_refuses_intervals_changed_after_registration(
    registered_model: Registered, change: str
) -> None:
    version = registered_model["version"]
    folder = model_file(version).parent
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    if change == "margins":  # wider intervals than calibrated
        margins = mlmodel["metadata"][registries.INTERVALS_KEY]["margins"]
        mlmodel["metadata"][registries.INTERVALS_KEY]["margins"] = [m * 2 for m in margins]
    elif change == "removed":
        del mlmodel["metadata"]
    else:  # intervals of a version registered without them
        client = mlflow.MlflowClient()
        client.delete_model_version_tag("bikes", version, registries.INTERVALS_TAG)
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))

    with pytest.raises(DataError, match="refused to load: its intervals") as error:
        registries.SklearnLoader().load(registered_model["uri"])

    assert f"are not the {registries.INTERVALS_TAG} of version 1" in str(error.value)


def test_loader_names_invalid_intervals(registered_model: Registered) -> None:
    folder = model_file(registered_model["version"]).parent
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    mlmodel["metadata"][registries.INTERVALS_KEY]["margins"] = [-1.0] * 24
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))

    with pytest.raises(DataError, match=r"invalid intervals in its MLmodel file \(margins.0:"):
        registries.SklearnLoader().load(registered_model["uri"])


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("models:/bikes@nope", "models:/bikes@nope: no version holds the alias"),
        ("models:/bikes/99", "models:/bikes/99: no such version"),
        ("models:/other@champion", "models:/other@champion: no version holds the alias"),
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
    trusted = [*trust.pipeline_types(pipeline), "builtins.exec"]
    mlflow.sklearn.save_model(
        pipeline,
        "tampered",
        serialization_format="skops",
        skops_trusted_types=trusted,
        pip_requirements=[],  # not inferred: MLflow would load the model in a subprocess
    )

    with pytest.raises(DataError, match=r"tampered: .* outside the allow-list: builtins.exec$"):
        registries.SklearnLoader().load("tampered")


MALICIOUS = {  # kind of crafted model: what the refusal names
    "pickle": "serialization_format 'pickle' in its MLmodel file",
    "cloudpickle": "serialization_format 'cloudpickle' in its MLmodel file",
    "no-format": "no serialization_format in its MLmodel file",
    "savetxt": "its MLmodel file trusts types outside the allow-list: numpy.savetxt",
    "savetxt-claims-allowed": "its model file holds types outside the allow-list: numpy.savetxt",
    "pickle-as-skops": "not a skops file",
}


@pytest.mark.parametrize("kind", MALICIOUS)
def test_loader_refuses_a_malicious_version_and_runs_none_of_it(
    kind: str, store: str, tmp_path: Path
) -> None:
    sentinel = tmp_path / "pwned"
    version = register_folder(craft(kind, sentinel, tmp_path / "model"))
    uri = registries.uri_for_model_version("bikes", version)

    with pytest.raises(DataError, match=f"^{uri}: refused to load: .*{MALICIOUS[kind]}"):
        registries.SklearnLoader().load(uri)

    assert not sentinel.exists()


@pytest.mark.parametrize("kind", ["pickle", "savetxt"])
def test_promotion_of_a_malicious_latest_version_is_a_data_error(
    kind: str,
    registered_model: Registered,
    tmp_path: Path,
    write_config: T.Callable[[str, str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sentinel = tmp_path / "pwned"
    version = register_folder(craft(kind, sentinel, tmp_path / "model"))
    config = write_config("promotion.yaml", "job:\n  KIND: PromotionJob\n  strategy: latest\n")

    assert scripts.main([str(config)]) == 3

    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"bikes: error: models:/bikes/{version}: refused to load: ")
    assert MALICIOUS[kind] in error
    assert not sentinel.exists()
    champion = mlflow.MlflowClient().get_model_version_by_alias("bikes", "champion")
    assert str(champion.version) == registered_model["version"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"pickled_model": "../model.skops"}, "no model file '../model.skops' in the model"),
        ({}, "the model is a DummyRegressor, not a Pipeline"),
    ],
    ids=["file-outside-the-model", "not-a-pipeline"],
)
def test_loader_refuses_a_model_that_is_not_a_pipeline_of_its_own(
    fields: dict[str, str], message: str, isolated: Path
) -> None:
    regressor = DummyRegressor().fit([[0.0]], [0.0])
    mlflow.sklearn.save_model(regressor, "model", serialization_format="skops", pip_requirements=[])
    (isolated / "model.skops").write_bytes((isolated / "model" / "model.skops").read_bytes())
    edit_flavor(isolated / "model", **fields)

    with pytest.raises(DataError, match=f"^model: {message}$"):
        registries.SklearnLoader().load("model")


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
    prepared: dict[str, Path], store: str
) -> None:
    model, inputs = fitted(GradientBoostingModel(max_iter=3), prepared)
    outputs = model.predict(inputs)
    signature = signers.InferSigner().sign(inputs, outputs)
    register = registries.MlflowRegister(tags={"team": "bikes"})

    with mlflow.start_run():
        info = registries.SklearnSaver(example_rows=3).save(model, signature, inputs)
    version = register.register("bikes", info.model_uri, tags={"data_digest": "abc"})

    assert version.number == 1
    local = Path(mlflow.artifacts.download_artifacts(info.model_uri))
    digest = hashlib.sha256((local / "model.skops").read_bytes()).hexdigest()
    assert version.tags == {"team": "bikes", "data_digest": "abc", "model_sha256": digest}
    flavor = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["sklearn"]
    assert flavor["serialization_format"] == "skops"
    assert flavor["skops_trusted_types"] == trust.pipeline_types(model.get_internal_model())
    example = json.loads((local / "input_example.json").read_text())
    assert len(example["data"]) == 3
    requirements = (local / "requirements.txt").read_text()
    assert "scikit-learn==" in requirements
    assert "skops==" in requirements


def test_saver_refuses_a_pipeline_of_dangerous_stock_types(
    prepared: dict[str, Path], store: str, tmp_path: Path
) -> None:
    honest, inputs = fitted(GradientBoostingModel(max_iter=2), prepared)
    signature = signers.InferSigner().sign(inputs, honest.predict(inputs))
    model = GradientBoostingModel()
    model._pipeline = stealing_pipeline(tmp_path / "pwned")  # as if the model built it

    with mlflow.start_run(), pytest.raises(ValueError, match="allow-list: numpy.savetxt$"):
        registries.SklearnSaver().save(model, signature, inputs)


def test_register_refuses_a_malicious_model(store: str, tmp_path: Path) -> None:
    sentinel = tmp_path / "pwned"
    craft("savetxt-claims-allowed", sentinel, tmp_path / "model")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(tmp_path / "model"), "model")
    uri = f"runs:/{run.info.run_id}/model"

    with pytest.raises(DataError, match=f"^{uri}: refused to load: .*numpy.savetxt$"):
        registries.MlflowRegister().register("bikes", uri)

    assert mlflow.MlflowClient().search_model_versions() == []
    assert not sentinel.exists()


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
@pytest.mark.integration
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
