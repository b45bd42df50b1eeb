"""Tests of the model signers."""

from __future__ import annotations

import pandas as pd

from bikes.utils import signers


def test_infer_signer_describes_inputs_and_outputs() -> None:
    inputs = pd.DataFrame({"hr": [1, 2], "temp": [0.1, 0.2]})
    outputs = pd.DataFrame({"prediction": [3.0, 4.0]})

    signature = signers.InferSigner().sign(inputs=inputs, outputs=outputs)

    assert signature.inputs.input_names() == ["hr", "temp"]
    assert signature.outputs.input_names() == ["prediction"]
    assert signature.to_dict()["inputs"] != signature.to_dict()["outputs"]
