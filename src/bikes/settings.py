"""Settings of the command line: the job to run, selected by its `KIND`."""

from __future__ import annotations

import pydantic as pdt

from bikes import jobs


class MainSettings(pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """Settings of the `bikes` command.

    Attributes:
        job: the job to run, selected by its `KIND`.
    """

    job: jobs.JobKind
