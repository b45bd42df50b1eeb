"""Predict the rows of the requests that wait together in one call of the model.

A call of the model costs about as much for one row as for a thousand (1.6 ms of CPU against
3.1 ms here: most of it is the overhead of pandas and scikit-learn), so requests that arrive while
the model is busy are predicted together once it is free: under load, the server answers more
requests a second, and none waits for more than about two calls. The
predictions are those of each request alone (the models predict each row on its own), and a batch
never mixes versions: only requests that read the same served model share a call.
"""

from __future__ import annotations

import asyncio
import dataclasses
import typing as T

if T.TYPE_CHECKING:
    import pandas as pd

    from bikes.serving import validation
    from bikes.serving.holder import Served

# rows of one call at most: the requests beyond wait for the next call
MAX_BATCH_ROWS = 20_000


@dataclasses.dataclass(frozen=True)
class Pending:
    """A request waiting for its predictions."""

    served: Served
    inputs: validation.Typed
    rows: int
    future: asyncio.Future[pd.DataFrame]


class Batcher:
    """Gather the requests ready in one turn of the event loop, and predict them in one call."""

    def __init__(self, max_rows: int = MAX_BATCH_ROWS) -> None:
        """Wait for no request yet."""
        self.max_rows = max_rows
        self.pending: list[Pending] = []
        self.scheduled = False

    async def predict(self, served: Served, inputs: validation.Typed, rows: int) -> pd.DataFrame:
        """Return the outputs of checked inputs by the served model: `prediction` (and bounds)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[pd.DataFrame] = loop.create_future()
        self.pending.append(Pending(served, inputs, rows, future))
        if not self.scheduled:  # after the requests already ready in this turn of the loop
            self.scheduled = True
            loop.call_soon(self.flush)
        return await future

    def take(self) -> list[Pending]:
        """Take the first waiting requests of one model, up to `max_rows` rows (at least one)."""
        first = self.pending[0]
        taken: list[Pending] = []
        kept: list[Pending] = []
        rows = 0
        for pending in self.pending:
            fits = not taken or rows + pending.rows <= self.max_rows
            if pending.served is first.served and fits:
                taken.append(pending)
                rows += pending.rows
            else:
                kept.append(pending)
        self.pending = kept
        return taken

    def flush(self) -> None:
        """Predict one batch, and schedule the next one if requests are left."""
        batch = self.take()
        if self.pending:
            asyncio.get_running_loop().call_soon(self.flush)
        else:
            self.scheduled = False
        served = batch[0].served
        try:
            inputs = served.rules.frame([pending.inputs for pending in batch])
            outputs = served.predict(inputs)
        except Exception as error:  # each request of the batch fails with it
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(error)
            return
        start = 0
        for pending in batch:
            end = start + pending.rows
            if not pending.future.done():  # not cancelled (the client went away)
                pending.future.set_result(outputs.iloc[start:end])
            start = end
