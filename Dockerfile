# Image of the bikes package: `docker build -t bikes .` then `docker run --rm bikes --help`.
# Stage 1 builds the wheel with uv and exports the pinned runtime requirements of uv.lock.
# Stage 2 installs only that wheel (with those pins and its extras: the Dask engine and the
# PostgreSQL driver) into a slim Python, as a non-root user.
# tini runs as PID 1: it forwards SIGTERM (docker stop, Kubernetes) to the job, which ends its
# MLflow run as KILLED, and reaps zombies. PID 1 ignores the signals it has no handler for.

FROM python:3.12-slim AS builder
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /bin/uv
WORKDIR /build
COPY pyproject.toml uv.lock README.md ./
COPY src/ src/
RUN uv build --wheel --out-dir /dist \
    && uv export --frozen --format requirements.txt --no-dev --no-hashes --no-emit-project \
    --all-extras --output-file /dist/constraints.txt

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install --yes --no-install-recommends tini=0.19.* \
    && rm -rf /var/lib/apt/lists/*
RUN --mount=type=bind,from=builder,source=/dist,target=/dist \
    WHEEL="$(ls /dist/bikes-*.whl)" \
    && pip install --no-cache-dir --constraint /dist/constraints.txt "${WHEEL}[dask,postgres]" \
    && groupadd --gid 10001 bikes \
    && useradd --create-home --uid 10001 --gid 10001 bikes \
    && mkdir /app \
    && chown bikes:bikes /app
WORKDIR /app
COPY --chown=bikes:bikes confs/ confs/
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["tini", "--", "bikes"]
CMD ["--help"]
