# Image of the bikes package: `docker build -t bikes .` then `docker run --rm bikes --help`.
# Needs BuildKit (the default of Docker 23+; `DOCKER_BUILDKIT=1` for older clients). No `# syntax`
# line: it would pull the Dockerfile frontend from Docker Hub, and the build must work offline.
# The `deps` stage installs the pinned runtime requirements of uv.lock (with the extras: the Dask
# engine and the PostgreSQL driver) into a virtual environment, the `package` stage builds the
# wheel of the project: a code change rebuilds only that wheel and its small layer.
# The final stage has neither uv nor build tools nor caches nor the test suites of the
# dependencies (130 MB that no runtime code imports), and runs as a non-root user.
# tini runs as PID 1: it forwards SIGTERM (docker stop, Kubernetes) to the job, which ends its
# MLflow run as KILLED, and reaps zombies. PID 1 ignores the signals it has no handler for.
#
# Offline (no registry, no package index; `uv run inv containers.build --offline` does it all):
#   BASE_IMAGE=bikes-base:trixie  a Debian base made with debootstrap (python3, tini)
#   UV_IMAGE=bikes-uv:0.13.9      an image holding only the host's uv binary at /uv
#   WHEELS=wheelhouse             the wheels of `wheelhouse/` (in the build context), no index
ARG BASE_IMAGE=python:3.12-slim
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9
ARG WHEELS=index

FROM ${UV_IMAGE} AS uv

# the source of the Python packages: the package index (an empty folder), or the wheelhouse
FROM scratch AS wheels-index
FROM scratch AS wheels-wheelhouse
COPY wheelhouse/ /
# hadolint ignore=DL3006
FROM wheels-${WHEELS} AS wheels

FROM ${BASE_IMAGE} AS builder
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_FIND_LINKS=/wheels
WORKDIR /build

# the pinned runtime requirements: the next stage is rebuilt only when they change (not when
# another part of pyproject.toml does)
FROM builder AS requirements
COPY pyproject.toml uv.lock ./
RUN --mount=type=bind,from=uv,source=/uv,target=/bin/uv \
    uv export --frozen --format requirements.txt --no-dev --no-hashes --no-emit-project --quiet \
    --extra dask --extra postgres --output-file requirements.txt

FROM builder AS deps
ARG WHEELS
COPY --from=requirements /build/requirements.txt ./
RUN --mount=type=bind,from=uv,source=/uv,target=/bin/uv \
    --mount=type=bind,from=wheels,target=/wheels \
    if [ "${WHEELS}" = wheelhouse ]; then export UV_OFFLINE=1; fi \
    && uv venv --python python3 /opt/venv \
    && uv pip install --python /opt/venv/bin/python --requirement requirements.txt \
    && find /opt/venv -type d -name tests -prune -exec rm -rf {} +

FROM builder AS package
ARG WHEELS
COPY pyproject.toml uv.lock README.md ./
COPY src/ src/
RUN --mount=type=bind,from=uv,source=/uv,target=/bin/uv \
    --mount=type=bind,from=wheels,target=/wheels \
    if [ "${WHEELS}" = wheelhouse ]; then export UV_OFFLINE=1; fi \
    && uv build --wheel --out-dir /dist

FROM ${BASE_IMAGE}
ENV PATH=/opt/venv/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# tini from Debian's packages, unless the base has it already (as the debootstrapped one does)
RUN if ! command -v tini >/dev/null; then \
    apt-get update \
    && apt-get install --yes --no-install-recommends tini=0.19.* \
    && rm -rf /var/lib/apt/lists/*; \
    fi \
    && groupadd --gid 10001 bikes \
    && useradd --create-home --uid 10001 --gid 10001 bikes \
    && mkdir /app \
    && chown bikes:bikes /app
COPY --from=deps /opt/venv /opt/venv
RUN --mount=type=bind,from=uv,source=/uv,target=/bin/uv \
    --mount=type=bind,from=package,source=/dist,target=/dist \
    UV_COMPILE_BYTECODE=1 uv pip install --python /opt/venv/bin/python --no-deps --no-cache \
    /dist/bikes-*.whl
WORKDIR /app
COPY --chown=bikes:bikes confs/ confs/
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["tini", "--", "bikes"]
CMD ["--help"]
