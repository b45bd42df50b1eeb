"""Save models in the MLflow format, register them, and load them back by version or alias.

A model is saved with MLflow's scikit-learn flavor as its plain fitted pipeline of stock estimators,
so `mlflow.pyfunc.load_model`, `mlflow models predict` and `mlflow models serve` load it in any
process with scikit-learn, without this package. The loader of this package never runs code that
came with a model: it checks the model against the allow-list of `bikes.io.trust` first.

The prediction intervals of a model (`bikes.core.intervals.Conformal`: 24 plain numbers) are in the
`intervals` entry of the metadata of its MLmodel file: stock MLflow ignores them and predicts the
point forecast; the loader of this package checks them against the `intervals_sha256` tag of the
version and adds the bounds to the predictions. A model without them predicts the point alone.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import io
import typing as T
from pathlib import Path

import pydantic as pdt
from loguru import logger

from bikes.core.errors import DataError
from bikes.io import tracking, trust

if T.TYPE_CHECKING:
    import pandas as pd
    from mlflow.models import Model as MLmodel
    from mlflow.models.model import ModelInfo
    from sklearn.pipeline import Pipeline

    from bikes.core.intervals import Conformal
    from bikes.core.models import Model
    from bikes.utils.signers import Signature

MODELS_SCHEME = "models:/"
DIGEST_TAG = "model_sha256"  # tag of a registered version: the SHA-256 of its model file
INTERVALS_TAG = "intervals_sha256"  # tag of a registered version: the SHA-256 of its intervals
INTERVALS_KEY = "intervals"  # entry of the MLmodel file's metadata that holds the intervals


def uri_for_model_alias(name: str, alias: str) -> str:
    """Return the URI of the version of a registered model that holds an alias."""
    return f"{MODELS_SCHEME}{name}@{alias}"


def uri_for_model_version(name: str, version: int | str) -> str:
    """Return the URI of a version of a registered model."""
    return f"{MODELS_SCHEME}{name}/{version}"


def model_columns(pipeline: Pipeline, columns: T.Sequence[str]) -> list[str]:
    """Return the input columns that a fitted pipeline reads, in the order of `columns`.

    A saved model's signature should require these only: a column that the pipeline drops (e.g.
    `dteday`) would otherwise have to be sent, and converted, by every client of the model.
    All columns are kept when the first step is not a `ColumnTransformer` of named columns.
    """
    from sklearn.compose import ColumnTransformer

    first = pipeline[0]
    if not isinstance(first, ColumnTransformer):
        return list(columns)
    names = list(getattr(first, "feature_names_in_", columns))
    used: set[str] = set()
    for _, transformer, selected in first.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        selection = [selected] if isinstance(selected, str | int) else selected
        if not isinstance(selection, list | tuple):  # a mask, slice or callable: keep all
            return list(columns)
        used.update(names[item] if isinstance(item, int) else str(item) for item in selection)
    return [column for column in columns if column in used]


# %% SAVERS


class Saver(abc.ABC, pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """Log a fitted model to the active MLflow run, in the MLflow model format.

    Attributes:
        name: name of the logged model (its artifact folder).
        example_rows: rows of the inputs kept as the input example (small: never the whole data).
    """

    KIND: str
    name: str = "model"
    example_rows: int = pdt.Field(default=5, gt=0)

    @abc.abstractmethod
    def save(
        self,
        model: Model,
        signature: Signature,
        inputs: pd.DataFrame,
        intervals: Conformal | None = None,
    ) -> ModelInfo:
        """Log the model, its signature and intervals, and the first rows of `inputs` as example."""


class SklearnSaver(Saver):
    """Log the model's scikit-learn pipeline with MLflow's sklearn flavor, serialized by skops.

    Why skops with an explicit trusted-types list: pickle and cloudpickle execute arbitrary code
    when a model is loaded, and cloudpickle may even embed this package's code by reference, so
    only this working tree could load it. skops stores the pipeline as data and only rebuilds the
    types it trusts. MLflow 3 saves with skops by default but refuses tree models, whose predictor
    types skops does not trust out of the box. Trusting all types would throw the safety away, so
    the list is computed from the pipeline itself and checked against the exact allow-list of
    `bikes.io.trust` (a pipeline holding any other type is not saved); MLflow stores it in the
    MLmodel file, for stock MLflow to load the model. The intervals go in its metadata.
    """

    KIND: T.Literal["SklearnSaver"] = "SklearnSaver"

    @T.override
    def save(
        self,
        model: Model,
        signature: Signature,
        inputs: pd.DataFrame,
        intervals: Conformal | None = None,
    ) -> ModelInfo:
        import mlflow.sklearn

        from bikes.utils.signers import quiet_integer_hint

        pipeline = model.get_internal_model()
        with quiet_integer_hint():
            info: ModelInfo = mlflow.sklearn.log_model(
                sk_model=pipeline,
                name=self.name,
                signature=signature,
                input_example=inputs.head(self.example_rows),
                serialization_format="skops",
                skops_trusted_types=trust.pipeline_types(pipeline),
                # the pinned stock requirements of the flavor (MLflow adds itself): inferring them
                # would reload the model in a subprocess for seconds, and find nothing more
                pip_requirements=mlflow.sklearn.get_default_pip_requirements(include_skops=True),
                metadata={INTERVALS_KEY: intervals.model_dump()} if intervals else None,
            )
        return info


SaverKind = SklearnSaver


# %% LOADERS


class LoadedModel:
    """A model loaded from the registry: its pipeline and where it came from.

    Attributes:
        uri: URI the model was asked by (e.g. `models:/bikes@champion`).
        pipeline: the fitted scikit-learn pipeline (for predictions and SHAP values).
        name: name of the registered model (None for a run or a path).
        version: version of the registered model (None for a run or a path).
        intervals: the prediction intervals of the model (None: a model saved without them).
    """

    def __init__(
        self,
        uri: str,
        pipeline: Pipeline,
        name: str | None = None,
        version: int | None = None,
        intervals: Conformal | None = None,
    ) -> None:
        """Keep the pipeline, its intervals and its origin."""
        self.uri, self.pipeline, self.name, self.version = uri, pipeline, name, version
        self.intervals = intervals

    def __repr__(self) -> str:
        """Name the model by its origin."""
        return f"LoadedModel(uri={self.uri!r}, name={self.name!r}, version={self.version!r})"

    def predict(self, inputs: pd.DataFrame) -> pd.DataFrame:
        """Predict outputs indexed like the inputs: `prediction`, and its bounds if it has some.

        The bounds are `prediction_lower` and `prediction_upper` (see `bikes.core.intervals`).
        """
        from bikes.core.models import predict

        return self.bound(predict(self.pipeline, inputs), inputs)

    def bound(self, outputs: pd.DataFrame, inputs: pd.DataFrame) -> pd.DataFrame:
        """Return the point outputs of inputs with their bounds (as they are without intervals)."""
        return outputs if self.intervals is None else self.intervals.assign(outputs, inputs)


class Loader(abc.ABC, pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """Load a model from a URI: `models:/<name>@<alias>`, `models:/<name>/<version>`, runs:/..."""

    KIND: str

    @abc.abstractmethod
    def load(self, uri: str, registry: tracking.Registry | None = None) -> LoadedModel:
        """Load the model of a URI, resolving `models:/` URIs in `registry` (a job's).

        A missing model is a `DataError` naming the URI; without `registry`, `models:/` URIs are
        resolved in the registry of MLflow's current URIs.
        """


def resolve(uri: str, registry: tracking.Registry | None = None) -> tracking.Version | None:
    """Return the registered version that a `models:/` URI points to (None for other URIs)."""
    if not uri.startswith(MODELS_SCHEME):
        return None
    path = uri.removeprefix(MODELS_SCHEME)
    name, alias = path.split("@", 1) if "@" in path else (path.partition("/")[0], None)
    version = None if alias is not None else path.partition("/")[2]
    if alias is None and not (version or "").isdigit():
        raise DataError(f"{uri}: expected models:/<name>@<alias> or models:/<name>/<version>")
    if registry is None or registry.name != name:
        registry = tracking.Registry.current(name)
    return registry.resolve(alias if alias is not None else int(T.cast(str, version)))


def read_model(uri: str, origin: str) -> tuple[MLmodel, bytes]:
    """Download a model, check its MLmodel file, and return it with the bytes of its model file.

    Args:
        uri: URI of the model to download.
        origin: the model as the user named it, for the messages.

    Raises:
        DataError: the model cannot be read, or its MLmodel file fails `trust.model_file`.
    """
    import tempfile

    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model as MLmodel

    with tempfile.TemporaryDirectory(prefix="bikes-model-") as folder:
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=folder))
            metadata = MLmodel.load(local)
        except (MlflowException, OSError) as error:
            detail = " ".join(str(error).split())  # on one line
            raise DataError(f"{origin}: cannot read the model ({detail})") from error
        return metadata, trust.model_file(local, metadata.flavors, origin).read_bytes()


def read_intervals(metadata: MLmodel, origin: str) -> Conformal | None:
    """Return the intervals in the metadata of an MLmodel file (None: a model without them).

    Raises:
        DataError: the intervals are not valid ones.
    """
    from bikes.core.intervals import Conformal

    found = (metadata.metadata or {}).get(INTERVALS_KEY)
    if found is None:
        return None
    try:
        return Conformal.model_validate(found)
    except pdt.ValidationError as error:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise DataError(f"{origin}: invalid intervals in its MLmodel file ({detail})") from error


def check_intervals(
    version: tracking.Version | None, intervals: Conformal | None, origin: str
) -> None:
    """Check the intervals of a registered model against the `intervals_sha256` of its version.

    A version registered before the tag existed (no `model_sha256` either) loads with a warning.

    Raises:
        DataError: intervals that are not the registered ones (changed, added or removed).
    """
    if version is None or (INTERVALS_TAG not in version.tags and intervals is None):
        return
    expected = version.tags.get(INTERVALS_TAG)
    if expected is None and DIGEST_TAG not in version.tags:
        logger.warning("{}: no {} tag, the intervals are not verified", origin, INTERVALS_TAG)
        return
    digest = intervals.digest() if intervals is not None else None
    if digest != expected:
        raise DataError(
            f"{origin}: refused to load: its intervals ({digest or 'none'}) are not the"
            f" {INTERVALS_TAG} of version {version.number} ({expected or 'none'}): the MLmodel"
            " file changed after registration"
        )


def check_digest(version: tracking.Version | None, data: bytes, origin: str) -> None:
    """Check a registered model file against the SHA-256 that its version was registered with.

    A version registered before the tag existed loads with a warning; other URIs have no tag.

    Raises:
        DataError: the file's SHA-256 is not the one of the version's `model_sha256` tag.
    """
    if version is None:
        return
    expected = version.tags.get(DIGEST_TAG)
    if expected is None:
        logger.warning("{}: no {} tag, the model file is not verified", origin, DIGEST_TAG)
        return
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise DataError(
            f"{origin}: refused to load: the SHA-256 of its model file ({digest}) is not the"
            f" {DIGEST_TAG} of version {version.number} ({expected}): the file changed after"
            " registration"
        )


class SklearnLoader(Loader):
    """Load the scikit-learn pipeline of a model saved by `SklearnSaver`, never running its code.

    Nothing of the model is deserialized before it passes every check (`bikes.io.trust`): its
    MLmodel file declares the skops format and trusts allowed types only; the file of a registered
    version has the SHA-256 of its `model_sha256` tag; the types of the file itself, as skops reads
    them from its schema, are allowed ones. skops then builds the pipeline trusting those only.
    Unlike `mlflow.sklearn.load_model`, the loader neither unpickles nor adds the model's code to
    `sys.path`. The intervals in its MLmodel file are checked against the `intervals_sha256` tag.
    """

    KIND: T.Literal["SklearnLoader"] = "SklearnLoader"

    @T.override
    def load(self, uri: str, registry: tracking.Registry | None = None) -> LoadedModel:
        version = resolve(uri, registry)
        source = version.uri if version else uri
        origin = f"{uri} (version {version.number})" if version and source != uri else uri
        metadata, data = read_model(source, origin)
        check_digest(version, data, origin)
        intervals = read_intervals(metadata, origin)
        check_intervals(version, intervals, origin)
        return LoadedModel(
            uri=uri,
            pipeline=trust.load_pipeline(data, origin),
            name=version.name if version else None,
            version=version.number if version else None,
            intervals=intervals,
        )


LoaderKind = SklearnLoader


# %% REGISTERS


class Register(abc.ABC, pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """Register logged models as new versions of a registered model.

    Attributes:
        tags: tags of every registered version.
    """

    KIND: str
    tags: dict[str, str] = pdt.Field(default_factory=dict)

    @abc.abstractmethod
    def register(
        self, name: str, model_uri: str, tags: dict[str, str] | None = None
    ) -> tracking.Version:
        """Register the model of `model_uri` as a new version of `name`, with extra `tags`."""


class MlflowRegister(Register):
    """Register models in the MLflow model registry, each version tagged with its `model_sha256`.

    A model with intervals is tagged with their `intervals_sha256` too.

    The model is checked as the loader checks it (`bikes.io.trust`) before it is registered.
    """

    KIND: T.Literal["MlflowRegister"] = "MlflowRegister"

    @T.override
    def register(
        self, name: str, model_uri: str, tags: dict[str, str] | None = None
    ) -> tracking.Version:
        import mlflow

        metadata, data = read_model(model_uri, model_uri)
        trust.file_types(data, model_uri)  # never vouch for a model that would not load
        intervals = read_intervals(metadata, model_uri)
        digest = {DIGEST_TAG: hashlib.sha256(data).hexdigest()}
        if intervals is not None:
            digest[INTERVALS_TAG] = intervals.digest()
        with contextlib.redirect_stderr(io.StringIO()):  # MLflow prints what the log says
            version = mlflow.register_model(
                model_uri=model_uri, name=name, tags={**self.tags, **(tags or {}), **digest}
            )
        return tracking.Version.of(version)


RegisterKind = MlflowRegister
