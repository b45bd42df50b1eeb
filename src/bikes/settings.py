"""Settings of the command line: the job to run, selected by its `KIND`."""

from __future__ import annotations

import json

import pydantic as pdt

from bikes import jobs


class MainSettings(pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """Settings of the `bikes` command.

    Attributes:
        job: the job to run, selected by its `KIND`.
    """

    job: jobs.JobKind


def json_schema() -> str:
    """Return the JSON schema of the settings as shipped in `bikes/schema.json`."""
    return json.dumps(MainSettings.model_json_schema(), indent=2) + "\n"
