"""Sign models: the MLflow signature (input and output schemas) saved with a model."""

from __future__ import annotations

import abc
import contextlib
import typing as T
import warnings

import pydantic as pdt

if T.TYPE_CHECKING:
    import pandas as pd
    from mlflow.models.signature import ModelSignature

    Signature: T.TypeAlias = ModelSignature


@contextlib.contextmanager
def quiet_integer_hint() -> T.Iterator[None]:
    """Silence MLflow's hint that integer columns cannot hold missing values.

    The schemas of this package reject missing values, so integer columns stay integers.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
        yield


class Signer(abc.ABC, pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """Make the signature of a model from its inputs and outputs."""

    KIND: str

    @abc.abstractmethod
    def sign(self, inputs: pd.DataFrame, outputs: pd.DataFrame) -> Signature:
        """Return the signature of a model that maps `inputs` to `outputs`."""


class InferSigner(Signer):
    """Infer the signature from example inputs and outputs (`mlflow.models.infer_signature`)."""

    KIND: T.Literal["InferSigner"] = "InferSigner"

    @T.override
    def sign(self, inputs: pd.DataFrame, outputs: pd.DataFrame) -> Signature:
        from mlflow.models import infer_signature

        with quiet_integer_hint():
            return infer_signature(model_input=inputs, model_output=outputs)


SignerKind = InferSigner
