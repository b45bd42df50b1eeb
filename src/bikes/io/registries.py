"""Save models in the MLflow format, register them, and load them back by version or alias.

A model is saved with MLflow's scikit-learn flavor as its plain fitted pipeline of stock estimators,
so `mlflow.pyfunc.load_model`, `mlflow models predict` and `mlflow models serve` load it in any
process with scikit-learn, without this package.
"""

from __future__ import annotations

import abc
import typing as T

import pydantic as pdt

from bikes.core.errors import DataError
from bikes.io import tracking

if T.TYPE_CHECKING:
    import pandas as pd
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.models.model import ModelInfo
    from sklearn.pipeline import Pipeline

    from bikes.core.models import Model
    from bikes.utils.signers import Signature

MODELS_SCHEME = "models:/"
# modules whose types a saved pipeline may hold: stock scikit-learn, numpy and scipy only
STOCK_MODULES = ("sklearn.", "numpy.", "scipy.")
# `TransformedTargetRegressor` keeps a `functools.partial` of a scikit-learn function: skops still
# checks the function it wraps against the same trusted list
STOCK_TYPES = frozenset({"functools.partial"})


def uri_for_model_alias(name: str, alias: str) -> str:
    """Return the URI of the version of a registered model that holds an alias."""
    return f"{MODELS_SCHEME}{name}@{alias}"


def uri_for_model_version(name: str, version: int | str) -> str:
    """Return the URI of a version of a registered model."""
    return f"{MODELS_SCHEME}{name}/{version}"


def is_stock(type_name: str) -> bool:
    """Tell whether a fully qualified type name belongs to a stock library."""
    return type_name.startswith(STOCK_MODULES) or type_name in STOCK_TYPES


def trusted_types(pipeline: Pipeline) -> list[str]:
    """Return the types of a pipeline that skops does not trust by default, all stock ones.

    Raises:
        ValueError: the pipeline holds a type outside scikit-learn, numpy and scipy (a bug: the
            models of this package are made of stock estimators only).
    """
    import skops.io  # type: ignore[import-untyped]

    types = sorted(skops.io.get_untrusted_types(data=skops.io.dumps(pipeline)))
    foreign = [name for name in types if not is_stock(name)]
    if foreign:
        raise ValueError(f"the pipeline holds types that are not stock: {', '.join(foreign)}")
    return types


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
    def save(self, model: Model, signature: Signature, inputs: pd.DataFrame) -> ModelInfo:
        """Log the model with its signature and the first rows of `inputs` as example."""


class SklearnSaver(Saver):
    """Log the model's scikit-learn pipeline with MLflow's sklearn flavor, serialized by skops.

    Why skops with an explicit trusted-types list: pickle and cloudpickle execute arbitrary code
    when a model is loaded, and cloudpickle may even embed this package's code by reference, so
    only this working tree could load it. skops stores the pipeline as data and only rebuilds the
    types it trusts. MLflow 3 saves with skops by default but refuses tree models, whose predictor
    types skops does not trust out of the box. Trusting all types would throw the safety away, so
    the list is computed from the pipeline itself and checked to hold stock scikit-learn, numpy and
    scipy types only (`trusted_types`); MLflow stores it in the MLmodel file for the loaders.
    """

    KIND: T.Literal["SklearnSaver"] = "SklearnSaver"

    @T.override
    def save(self, model: Model, signature: Signature, inputs: pd.DataFrame) -> ModelInfo:
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
                skops_trusted_types=trusted_types(pipeline),
                # the pinned stock requirements of the flavor (MLflow adds itself): inferring them
                # would reload the model in a subprocess for seconds, and find nothing more
                pip_requirements=mlflow.sklearn.get_default_pip_requirements(include_skops=True),
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
        run_id: run that logged the model, when known.
    """

    def __init__(
        self,
        uri: str,
        pipeline: Pipeline,
        name: str | None = None,
        version: str | None = None,
        run_id: str | None = None,
    ) -> None:
        """Keep the pipeline and its origin."""
        self.uri = uri
        self.pipeline = pipeline
        self.name = name
        self.version = version
        self.run_id = run_id

    def __repr__(self) -> str:
        """Name the model by its origin."""
        return f"LoadedModel(uri={self.uri!r}, name={self.name!r}, version={self.version!r})"

    def predict(self, inputs: pd.DataFrame) -> pd.DataFrame:
        """Predict outputs: a non-negative `prediction` column, indexed like the inputs."""
        from bikes.core.models import predict

        return predict(self.pipeline, inputs)


class Loader(abc.ABC, pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """Load a model from a URI: `models:/<name>@<alias>`, `models:/<name>/<version>`, runs:/..."""

    KIND: str

    @abc.abstractmethod
    def load(self, uri: str) -> LoadedModel:
        """Load the model of a URI (a missing model is a `DataError` naming the URI)."""


def resolve(uri: str) -> ModelVersion | None:
    """Return the registered version that a `models:/` URI points to (None for other URIs)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    if not uri.startswith(MODELS_SCHEME):
        return None
    path = uri.removeprefix(MODELS_SCHEME)
    client = mlflow.MlflowClient()
    try:
        if "@" in path:
            name, alias = path.split("@", 1)
            return client.get_model_version_by_alias(name=name, alias=alias)
        name, _, version = path.partition("/")
        if not version.isdigit():
            raise DataError(f"{uri}: expected models:/<name>@<alias> or models:/<name>/<version>")
        return client.get_model_version(name=name, version=version)
    except MlflowException as error:
        detail = str(error.message).strip().splitlines()[0]
        raise DataError(f"{uri}: model not found in the registry ({detail})") from error


class SklearnLoader(Loader):
    """Load the scikit-learn pipeline of a model saved by `SklearnSaver`.

    Before deserializing, the trusted types that the model's MLmodel file declares are checked to
    be stock ones: the list travels with the model, so a tampered model could otherwise trust
    anything.
    """

    KIND: T.Literal["SklearnLoader"] = "SklearnLoader"

    @T.override
    def load(self, uri: str) -> LoadedModel:
        import mlflow
        import mlflow.sklearn
        from mlflow.exceptions import MlflowException

        version = resolve(uri)
        source = uri_for_model_version(version.name, version.version) if version else uri
        try:
            info = mlflow.models.get_model_info(source)
        except (MlflowException, OSError) as error:
            raise DataError(f"{uri}: cannot read the model ({error})") from error
        flavor = info.flavors.get("sklearn")
        if flavor is None:
            raise DataError(f"{uri}: not a scikit-learn model (flavors: {', '.join(info.flavors)})")
        foreign = [name for name in flavor.get("skops_trusted_types") or [] if not is_stock(name)]
        if foreign:
            raise DataError(f"{uri}: the model trusts types that are not stock: {foreign}")
        pipeline = mlflow.sklearn.load_model(source)
        return LoadedModel(
            uri=uri,
            pipeline=pipeline,
            name=version.name if version else None,
            version=str(version.version) if version else None,
            run_id=(version.run_id if version else info.run_id) or None,
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
    """Register models in the MLflow model registry."""

    KIND: T.Literal["MlflowRegister"] = "MlflowRegister"

    @T.override
    def register(
        self, name: str, model_uri: str, tags: dict[str, str] | None = None
    ) -> tracking.Version:
        import mlflow

        version = mlflow.register_model(
            model_uri=model_uri, name=name, tags={**self.tags, **(tags or {})}
        )
        return tracking.Version.of(version)


RegisterKind = MlflowRegister
