"""What a saved model may hold, and the checks that a model passes before it is deserialized.

Loading a model must never run code that came with it. pickle and cloudpickle call whatever the
file names, so only skops files are read: skops rebuilds the types it trusts by default (stock
estimators, numpy and scipy ufuncs, primitives) and refuses the others unless told to trust them.
Which types to trust is decided here, by an exact allow-list of full names, never by the model:
the list in its MLmodel file travels with it, and a module prefix (`numpy.`) would trust functions
like `numpy.savetxt`, which write files when the pipeline runs.
"""

from __future__ import annotations

import typing as T
import zipfile
from pathlib import Path

from bikes.core.errors import DataError

if T.TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

# what skops reports as untrusted in the fitted pipelines of `bikes.core.models`, with every
# option (tests/io/test_trust.py rebuilds them all and checks that this list is exact)
TRUSTED_TYPES = frozenset(
    {
        # the trees of `HistGradientBoostingRegressor` (`GradientBoostingModel`)
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        # its preprocessor of `categorical_features`: skops checks the function it wraps too
        "functools.partial",
        "sklearn.utils.validation.check_array",
        # the trees of `RandomForestRegressor` (`BaselineSklearnModel`)
        "sklearn.tree._tree.Tree",
    }
)
SKOPS = "skops"  # the only serialization format of the sklearn flavor that loads as data


def refused(types: T.Iterable[str]) -> list[str]:
    """Return the type names outside the allow-list, sorted."""
    return sorted(set(types) - TRUSTED_TYPES)


def pipeline_types(pipeline: Pipeline) -> list[str]:
    """Return the types of a pipeline that skops does not trust by default, all allowed ones.

    Raises:
        ValueError: the pipeline holds a type outside the allow-list (a bug: the models of this
            package hold the allowed types only).
    """
    import skops.io  # type: ignore[import-untyped]

    types = sorted(skops.io.get_untrusted_types(data=skops.io.dumps(pipeline)))
    outside = refused(types)
    if outside:
        raise ValueError(f"the pipeline holds types outside the allow-list: {', '.join(outside)}")
    return types


def model_file(folder: Path, flavors: dict[str, T.Any], origin: str) -> Path:
    """Return the skops file of a downloaded model, once its MLmodel file passes the checks.

    Args:
        folder: the model's folder (holding its MLmodel file).
        flavors: the flavors of its MLmodel file.
        origin: the model's URI, for the messages.

    Raises:
        DataError: not a scikit-learn model, a format other than skops, trusted types outside the
            allow-list, or a model file outside the folder.
    """
    flavor = flavors.get("sklearn")
    if flavor is None:
        raise DataError(f"{origin}: not a scikit-learn model (flavors: {', '.join(flavors)})")
    fmt = flavor.get("serialization_format")
    if fmt != SKOPS:
        found = f"serialization_format {fmt!r}" if fmt else "no serialization_format"
        raise DataError(f"{origin}: refused to load: {found} in its MLmodel file (only skops)")
    outside = refused(flavor.get("skops_trusted_types") or [])
    if outside:
        raise DataError(
            f"{origin}: refused to load: its MLmodel file trusts types outside the allow-list:"
            f" {', '.join(outside)}"
        )
    path = (folder / str(flavor.get("pickled_model"))).resolve()
    if not path.is_relative_to(folder.resolve()) or not path.is_file():
        raise DataError(f"{origin}: no model file {flavor.get('pickled_model')!r} in the model")
    return path


def file_types(data: bytes, origin: str) -> list[str]:
    """Return the types of a skops file that skops does not trust by default, all allowed ones.

    skops reads them from the file's schema without building any object.

    Raises:
        DataError: not a skops file, or one holding types outside the allow-list.
    """
    import skops.io

    try:
        types: list[str] = skops.io.get_untrusted_types(data=data)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as error:
        raise DataError(f"{origin}: refused to load: not a skops file ({error!r})") from error
    outside = refused(types)
    if outside:
        raise DataError(
            f"{origin}: refused to load: its model file holds types outside the allow-list:"
            f" {', '.join(outside)}"
        )
    return types


def load_pipeline(data: bytes, origin: str) -> Pipeline:
    """Build the pipeline of a skops file, trusting the allowed types only.

    Raises:
        DataError: the file holds types outside the allow-list, or no scikit-learn pipeline.
    """
    import skops.io
    from sklearn.pipeline import Pipeline

    types = file_types(data, origin)
    try:
        pipeline = skops.io.loads(data, trusted=types)
    except (KeyError, ValueError, TypeError) as error:
        raise DataError(f"{origin}: cannot load the model file ({error!r})") from error
    if not isinstance(pipeline, Pipeline):
        raise DataError(f"{origin}: the model is a {type(pipeline).__name__}, not a Pipeline")
    return pipeline
