"""The FastAPI application: scoring, forecasts, health, the model card and Prometheus metrics.

Endpoints run in the event loop: a prediction is a few milliseconds of CPU under the GIL, which a
thread pool would only delay. Each request reads the served model once (`ready`), so it is answered
by one version from start to end, whatever the watcher swaps meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import typing as T

import fastapi
import pydantic as pdt
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from bikes.core.intervals import LOWER, UPPER
from bikes.io import registries, services
from bikes.serving import batching, encodings, holder, metrics, schemas, validation

if T.TYPE_CHECKING:
    import pandas as pd

    from bikes.io import tracking

# the environment variable that passes the settings to the workers' processes
SETTINGS_VARIABLE = "BIKES_SERVING_SETTINGS"
# longest text of a refused value echoed in a response
MAX_ECHO = 200
DESCRIPTION = """\
Forecasts of hourly bike rentals by the registered model `bikes`, following an alias (`champion`)
or a pinned version. `/forecast` takes hours in the units a person uses; `/invocations` takes
MLflow's scoring protocol in the model's encodings, for MLflow clients. Inputs are checked by the
rules of the batch jobs' inputs schema: a violation answers 422, naming the field, row and value.
Every prediction names the model version that made it (also in the `X-Model-Version` header).
"""
ERRORS: dict[int | str, dict[str, T.Any]] = {
    413: {"model": schemas.Problem, "description": "more rows than the server takes"},
    422: {"model": schemas.Problem, "description": "a value breaks a rule"},
    503: {"model": schemas.Problem, "description": "no model is loaded yet"},
}


class Settings(pdt.BaseModel, strict=True, frozen=True, extra="forbid"):
    """What the app serves: which model version, how often to look for a new one, how much.

    Attributes:
        alias: alias of the registered model to follow (when `version` is None).
        version: version of the registered model to serve (wins over `alias`).
        poll_seconds: seconds between two looks at the alias.
        max_rows: rows (or hours) of one request at most.
        loader: loader of the model versions.
        mlflow_service: the tracking server and registry of the model.
    """

    alias: str = pdt.Field(default="champion", min_length=1)
    version: int | None = pdt.Field(default=None, gt=0)
    poll_seconds: float = pdt.Field(default=10.0, gt=0)
    max_rows: int = pdt.Field(default=100_000, gt=0)
    loader: registries.LoaderKind = pdt.Field(
        default=registries.SklearnLoader(), discriminator="KIND"
    )
    mlflow_service: services.MlflowService = pdt.Field(default_factory=services.MlflowService)

    def app(self) -> fastapi.FastAPI:
        """Return the app (it connects to the registry and loads its first model as it starts)."""
        held = holder.ModelHolder(self.connect, self.loader, self.alias, self.version)
        return create_app(held, self.poll_seconds, self.max_rows)

    def connect(self) -> tracking.Registry:
        """Point MLflow at the registry, and return the registered model.

        skops is imported before MLflow: its import looks for each numpy and scipy function in
        every module loaded, so it costs half as much (0.6 s of CPU here) before MLflow's modules.
        """
        import importlib

        importlib.import_module("skops.io")
        import mlflow

        mlflow.set_tracking_uri(self.mlflow_service.tracking_uri)
        mlflow.set_registry_uri(self.mlflow_service.registry_uri)
        return self.mlflow_service.registry()


def from_environment() -> fastapi.FastAPI:
    """Return the app of the settings in the environment (the factory of uvicorn's workers)."""
    return Settings.model_validate_json(os.environ[SETTINGS_VARIABLE]).app()


class NotReadyError(Exception):
    """No model is loaded yet."""


class TooLargeError(Exception):
    """A request holds more rows than the server takes."""


def create_app(
    held: holder.ModelHolder, poll_seconds: float = 10.0, max_rows: int = 100_000
) -> fastapi.FastAPI:
    """Return the app serving the model of a holder, refreshed every `poll_seconds` once started."""
    from bikes import __version__

    watcher = holder.AliasWatcher(held, poll_seconds)
    counters = metrics.Metrics()
    held.observers.append(counters)

    @contextlib.asynccontextmanager
    async def lifespan(_: fastapi.FastAPI) -> T.AsyncIterator[None]:
        # the first model loads before the first request is accepted: no worker answers 503
        # while it loads (if it fails, the server starts unready, and the watcher tries again)
        await asyncio.to_thread(holder.first_load, held)
        watcher.start()
        yield
        watcher.stop()

    app = fastapi.FastAPI(
        title="bikes", version=__version__, description=DESCRIPTION, lifespan=lifespan
    )
    app.state.holder, app.state.metrics, app.state.max_rows = held, counters, max_rows
    app.state.batcher = batching.Batcher()
    app.add_middleware(metrics.MetricsMiddleware, metrics=counters)
    app.add_exception_handler(RequestValidationError, refused_request)  # type: ignore[arg-type]
    app.add_exception_handler(validation.InputsError, refused_inputs)  # type: ignore[arg-type]
    app.add_exception_handler(NotReadyError, not_ready)
    app.add_exception_handler(TooLargeError, too_large)
    app.include_router(router)
    return app


# %% ERRORS


def echo(value: object) -> pdt.JsonValue:
    """Return a refused value to echo in a response: a scalar, never a whole body."""
    if isinstance(value, str):
        return value[:MAX_ECHO]
    if value is None or isinstance(value, bool | int | float):
        return value
    return f"<{type(value).__name__}>"


def problem(status: int, detail: str, found: T.Sequence[validation.Violation] = ()) -> Response:
    """Return the response of a refused request."""
    violations = [
        schemas.ViolationOut(field=v.field, row=v.row, value=echo(v.value), rule=v.rule)
        for v in found
    ]
    body = schemas.Problem(detail=detail, violations=violations)
    return Response(body.model_dump_json(), status_code=status, media_type="application/json")


async def refused_request(_: fastapi.Request, error: RequestValidationError) -> Response:
    """Answer 422 to a request whose body does not fit its schema (e.g. 35 °C felt as 300)."""
    found: list[validation.Violation] = []
    for item in error.errors()[: validation.MAX_VIOLATIONS]:
        location = [part for part in item.get("loc", ()) if part != "body"]
        rows = [  # the position in a list of rows (not, e.g., of a character in broken JSON)
            part
            for before, part in zip([None, *location], location, strict=False)
            if isinstance(part, int) and isinstance(before, str)
        ]
        names = [part for part in location if isinstance(part, str)]
        found.append(
            validation.Violation(
                field=names[-1] if names else None,
                row=rows[0] if rows else None,
                value=item.get("input"),
                rule=str(item.get("msg", item.get("type", "invalid"))),
            )
        )
    phrases = [
        f"{v.field or 'body'}{f' at row {v.row}' if v.row is not None else ''}: {v.rule}"
        f" (value {echo(v.value)!r})"
        for v in found[:3]
    ]
    more = f"; and {len(found) - 3} more" if len(found) > 3 else ""
    return problem(422, f"request: {'; '.join(phrases)}{more}", found)


async def refused_inputs(_: fastapi.Request, error: validation.InputsError) -> Response:
    """Answer 422 to inputs that break the rules of the inputs schema."""
    return problem(422, str(error), error.violations)


async def not_ready(_: fastapi.Request, error: Exception) -> Response:
    """Answer 503 while no model is loaded."""
    response = problem(503, f"no model is loaded yet: {error}")
    response.headers["Retry-After"] = "1"
    return response


async def too_large(_: fastapi.Request, error: Exception) -> Response:
    """Answer 413 to a request of too many rows."""
    return problem(413, str(error))


# %% ENDPOINTS

router = fastapi.APIRouter()


def ready(request: fastapi.Request) -> holder.Served:
    """Return the served model (one snapshot for the whole request), or raise `NotReadyError`."""
    held: holder.ModelHolder = request.app.state.holder
    served = held.current
    if served is None:
        raise NotReadyError(held.problem)
    return served


def bounded(request: fastapi.Request, rows: int) -> None:
    """Raise `TooLargeError` for a request of more rows than the server takes."""
    if rows > request.app.state.max_rows:
        raise TooLargeError(f"{rows} rows: the server takes {request.app.state.max_rows} at most")


def answer(body: pdt.BaseModel, served: holder.Served) -> Response:
    """Return a JSON response that names the model version in its headers too."""
    headers = {
        "X-Model-Name": served.version.name,
        "X-Model-Version": str(served.version.number),
        "X-Model-Alias": served.alias or "",
    }
    return Response(body.model_dump_json(), media_type="application/json", headers=headers)


def none(rows: T.Sized) -> list[None]:
    """Return a None a row: the bounds of a model without intervals."""
    return [None] * len(rows)


def column(outputs: pd.DataFrame, name: str) -> list[float] | None:
    """Return a column of outputs as a list (None when the model predicts no such column)."""
    return outputs[name].tolist() if name in outputs else None


def reference(served: holder.Served) -> schemas.ModelRef:
    """Return the reference of a served version."""
    version = served.version
    return schemas.ModelRef(name=version.name, version=version.number, alias=served.alias)


@router.post(
    "/invocations",
    response_model=schemas.Predictions,
    responses=ERRORS,
    description=schemas.ENCODINGS,
)
async def invocations(
    body: T.Annotated[
        schemas.Invocation, fastapi.Body(openapi_examples=schemas.INVOCATION_EXAMPLES)
    ],
    request: fastapi.Request,
) -> Response:
    """Predict rows in the model's encodings, sent with MLflow's scoring protocol."""
    columns, rows = body.columns()
    served = ready(request)
    bounded(request, rows)
    inputs = served.rules.check(columns, rows, origin="request")
    outputs = await request.app.state.batcher.predict(served, inputs, rows)
    request.app.state.metrics.rows.labels("/invocations").inc(rows)
    answered = schemas.Predictions(
        predictions=outputs["prediction"].tolist(),
        predictions_lower=column(outputs, LOWER),
        predictions_upper=column(outputs, UPPER),
        model=reference(served),
    )
    return answer(answered, served)


@router.post(
    "/forecast", response_model=schemas.Forecasts, responses=ERRORS, description=schemas.FORECAST
)
async def forecast(
    body: T.Annotated[
        schemas.ForecastRequest, fastapi.Body(openapi_examples=schemas.FORECAST_EXAMPLES)
    ],
    request: fastapi.Request,
) -> Response:
    """Forecast the rentals of hours given in the units a person uses."""
    served = ready(request)
    bounded(request, len(body.hours))
    hours = body.frame()
    inputs = encodings.encode(hours)
    try:
        checked = served.rules.check(
            {name: inputs[name].to_numpy() for name in inputs.columns}, len(inputs), "hours"
        )
    except validation.InputsError as error:
        raise translate(error, hours) from error
    outputs = await request.app.state.batcher.predict(served, checked, len(hours))
    request.app.state.metrics.rows.labels("/forecast").inc(len(hours))
    stamps = hours["timestamp"].dt.floor("h").dt.to_pydatetime()
    points, lows, highs = (column(outputs, name) for name in ("prediction", LOWER, UPPER))
    forecasts = [
        schemas.Forecast(
            timestamp=stamp, prediction=point, prediction_lower=low, prediction_upper=high
        )
        for stamp, point, low, high in zip(
            stamps, points or [], lows or none(hours), highs or none(hours), strict=True
        )
    ]
    return answer(schemas.Forecasts(forecasts=forecasts, model=reference(served)), served)


@router.get("/model", response_model=schemas.ModelCard, responses={503: ERRORS[503]})
async def model(request: fastapi.Request) -> Response:
    """Describe the model served: version, alias, training metrics and signature."""
    served = ready(request)
    version = served.version
    card = schemas.ModelCard(
        name=version.name,
        version=version.number,
        alias=served.alias,
        uri=version.uri,
        run_id=version.run_id,
        loaded_at=served.loaded_at,
        metrics=served.metrics,
        signature=served.signature,
        tags=version.tags,
    )
    return answer(card, served)


@router.get("/health/live", response_model=schemas.Health, response_model_exclude_none=True)
async def live() -> schemas.Health:
    """Tell that the server answers (whether or not a model is loaded)."""
    return schemas.Health(status="alive")


@router.get("/health/ready", response_model=schemas.Health, responses={503: ERRORS[503]})
async def ready_health(request: fastapi.Request) -> JSONResponse:
    """Tell whether a model is loaded (503 until the first one is)."""
    held: holder.ModelHolder = request.app.state.holder
    served = held.current
    if served is None:
        health = schemas.Health(status="loading", detail=held.problem)
        return JSONResponse(health.model_dump(exclude_none=True), status_code=503)
    health = schemas.Health(status="ready", version=served.version.number)
    return JSONResponse(health.model_dump(exclude_none=True))


@router.get("/metrics", response_class=Response)
async def exposition(request: fastapi.Request) -> Response:
    """Return the metrics in Prometheus' text format."""
    from prometheus_client import CONTENT_TYPE_LATEST

    return Response(request.app.state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


# %% FORECASTS


def translate(error: validation.InputsError, hours: pd.DataFrame) -> validation.InputsError:
    """Name the fields of the request behind the input columns of a violation."""
    found, phrases = [], []
    for violation in error.violations:
        column = violation.field or ""
        field = encodings.FIELDS.get(column, column)
        value = violation.value
        if violation.row is not None and field in hours.columns:
            value = validation.jsonable(hours[field].iloc[violation.row])
        rule = f"{column} {violation.rule}"
        found.append(validation.Violation(field, violation.row, value, rule))
        phrases.append(f"hours[{violation.row}].{field}: {rule} (value {value!r})")
    return validation.InputsError("; ".join(phrases[:3]) or str(error), found)
