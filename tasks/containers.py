"""Container tasks: build and run the image of the project (online or offline), start the stack.

Online, `containers.build` builds from the official Python image and the package index. Offline
(no registry, no package index), `containers.build --offline` builds from three local pieces, each
made once and reused:

- `containers.base`: a Debian base image (python3, tini) made with debootstrap from Debian's
  package mirror, imported as `bikes-base:<release>`;
- `containers.uv`: the host's uv binary as an image, `bikes-uv:<version>`;
- `containers.wheelhouse`: the wheels of the pinned requirements for the Python of the base,
  downloaded on the host into `wheelhouse/` (ignored by git, sent to the build).

Each task first checks that a Docker engine answers (`docker info`): without one it prints a
single line saying so and exits with a non-zero code.
"""

import os
import platform
import shlex
import shutil
import tarfile
import tempfile
import time
import tomllib
from pathlib import Path

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

IMAGE = "bikes"
BASE = "bikes-base"
UV = "bikes-uv"
WHEELHOUSE = Path("wheelhouse")
# Debian 13, whose python3 is 3.13 (Debian 12's 3.11 is older than the project supports)
RELEASE = "trixie"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = "python3,tini,ca-certificates"
# an imported file system has no config: the environment the official images set
BASE_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)
EXTRAS = "--extra dask --extra postgres"
DATA = Path("../shared/data/bike-sharing/hour.csv")
# seconds: debootstrap and downloads depend on the mirror, a cold build installs ~400 MB
TIMEOUTS = {"probe": 60, "base": 1200, "wheelhouse": 900, "build": 1800, "run": 600}


def _version() -> str:
    """Return the version of the project, from its single source: `pyproject.toml`."""
    with Path("pyproject.toml").open("rb") as reader:
        version: str = tomllib.load(reader)["project"]["version"]
    return version


def _require_engine(ctx: Context) -> None:
    """Exit with one clear line when no Docker engine answers."""
    result = ctx.run("docker info", hide=True, warn=True, echo=False, timeout=TIMEOUTS["probe"])
    if result is None or not result.ok:
        raise Exit("containers: no Docker engine answers (`docker info` failed).", code=1)


def _probe(ctx: Context, command: str) -> str | None:
    """Return the output of a command that may fail, or None when it fails."""
    result = ctx.run(command, hide=True, warn=True, echo=False, timeout=TIMEOUTS["probe"])
    return result.stdout.strip() if result is not None and result.ok else None


def _image_exists(ctx: Context, image: str) -> bool:
    """Tell whether the engine has an image."""
    return _probe(ctx, f"docker image inspect {shlex.quote(image)}") is not None


def build_command(ctx: Context) -> str:
    """Return the command that builds with BuildKit (the Dockerfile's `RUN --mount` needs it).

    The first `docker` client on PATH with the buildx plugin, or else a classic client (before
    23.0, as Debian 12's `docker.io`) with DOCKER_BUILDKIT=1: clients from 23.0 on without buildx
    only have the legacy builder.
    """
    folders = os.environ.get("PATH", "").split(os.pathsep)
    clients = dict.fromkeys(shutil.which("docker", path=folder) for folder in folders)
    for client in filter(None, clients):
        if _probe(ctx, f"{client} buildx version") is not None:
            return f"{client} build"
        version = _probe(ctx, f"{client} version --format '{{{{.Client.Version}}}}'") or "0"
        if version.split(".")[0].isdigit() and int(version.split(".")[0]) < 23:
            return f"DOCKER_BUILDKIT=1 {client} build"
    raise Exit("containers: no docker client builds with BuildKit (install docker-buildx).", code=1)


@task
def base(ctx: Context, release: str = RELEASE, mirror: str = MIRROR, force: bool = False) -> str:
    """Make a Debian base image (python3, tini) with debootstrap: `bikes-base:<release>` (root)."""
    _require_engine(ctx)
    image = f"{BASE}:{release}"
    if _image_exists(ctx, image) and not force:
        print(f"containers: {image} exists (--force to make it again)")
        return image
    if shutil.which("debootstrap") is None or os.geteuid() != 0:
        raise Exit("containers: making a base needs root and debootstrap (apt-get).", code=1)
    with tempfile.TemporaryDirectory(prefix="bikes-base-", ignore_cleanup_errors=True) as folder:
        rootfs = Path(folder) / "rootfs"
        command = f"debootstrap --variant=minbase --include={PACKAGES} {release} {rootfs} {mirror}"
        ctx.run(command, hide="out", timeout=TIMEOUTS["base"])
        _trim(rootfs)
        changes = " ".join(f"--change {shlex.quote(change)}" for change in BASE_CHANGES)
        archive = f"tar --create --numeric-owner --directory {rootfs} ."
        ctx.run(f"{archive} | docker import {changes} - {image}")
    return image


def _trim(rootfs: Path) -> None:
    """Remove what an image does not need: apt's caches and lists, docs (not licenses), locales."""
    for pattern in ("var/cache/apt/*.bin", "var/cache/apt/archives/*.deb", "var/lib/apt/lists/*"):
        for path in filter(Path.is_file, rootfs.glob(pattern)):
            path.unlink()
    for folder in ("usr/share/man", "usr/share/info", "usr/share/locale"):
        shutil.rmtree(rootfs / folder, ignore_errors=True)
    for path in (rootfs / "usr/share/doc").rglob("*"):
        if path.is_file() and path.name != "copyright":
            path.unlink()


@task
def uv(ctx: Context) -> str:
    """Import the host's uv binary as an image, `bikes-uv:<version>` (at `/uv`, as upstream's)."""
    _require_engine(ctx)
    binary, version = shutil.which("uv"), _probe(ctx, "uv --version")
    if binary is None or version is None:
        raise Exit("containers: no uv on PATH to copy into the image.", code=1)
    image = f"{UV}:{version.split()[1]}"
    if _image_exists(ctx, image):
        return image
    with tempfile.TemporaryDirectory(prefix="bikes-uv-") as folder:
        archive = Path(folder) / "uv.tar"
        with tarfile.open(archive, "w") as writer:
            writer.add(Path(binary).resolve(), arcname="uv")
        ctx.run(f"docker import {archive} {image}")
    return image


def _target(ctx: Context, image: str) -> tuple[str, str]:
    """Return the Python version (`3.13`) and the glibc version (`2.41`) of an image."""
    script = "import platform, sys; print('%d.%d' % sys.version_info[:2], platform.libc_ver()[1])"
    command = (
        f"docker run --rm --network none --entrypoint python3 {image} -c {shlex.quote(script)}"
    )
    found = _probe(ctx, command)
    if found is None:
        raise Exit(f"containers: no python3 runs in {image} (`inv containers.base`?).", code=1)
    python, glibc = found.split()
    return python, glibc


def _requirements(ctx: Context) -> str:
    """Return the pinned runtime requirements of uv.lock and the build backend of the project."""
    command = f"uv export --frozen --no-dev --no-hashes --no-emit-project {EXTRAS}"
    result = ctx.run(command, hide=True, echo=False, timeout=TIMEOUTS["probe"])
    with Path("pyproject.toml").open("rb") as reader:
        backend: list[str] = tomllib.load(reader)["build-system"]["requires"]
    return "\n".join([result.stdout.strip() if result else "", *backend, ""])


def _platforms(machine: str, glibc: str) -> list[str]:
    """Return the wheel platforms a glibc runs: manylinux_2_17 (manylinux2014) to its version."""
    major, minor = (int(part) for part in glibc.split(".")[:2])
    tags = [f"manylinux_{major}_{version}_{machine}" for version in range(17, minor + 1)]
    return [*tags, f"manylinux2014_{machine}", "any"]


@task
def wheelhouse(ctx: Context, base: str = f"{BASE}:{RELEASE}", force: bool = False) -> None:
    """Download the wheels of the pinned requirements for the Python of `base` to `wheelhouse/`.

    `wheelhouse/requirements.txt` says what they were downloaded for: the task does nothing while
    the lock file, the Python and glibc of the base and the machine stay the same.
    """
    _require_engine(ctx)
    python, glibc = _target(ctx, base)
    machine = platform.machine()
    wanted = f"# python {python}, glibc {glibc}, {machine}\n{_requirements(ctx)}"
    requirements = WHEELHOUSE / "requirements.txt"
    if requirements.is_file() and requirements.read_text() == wanted and not force:
        print(f"containers: {WHEELHOUSE}/ is up to date (--force to download it again)")
        return
    shutil.rmtree(WHEELHOUSE, ignore_errors=True)
    WHEELHOUSE.mkdir()
    platforms = " ".join(f"--platform {tag}" for tag in _platforms(machine, glibc))
    abis = f"--abi cp{python.replace('.', '')} --abi abi3 --abi none"
    pending = requirements.with_suffix(".pending")  # up to date only once all are downloaded
    pending.write_text(wanted)
    ctx.run(
        f"uvx pip download --quiet --dest {WHEELHOUSE} --only-binary=:all: --implementation cp"
        f" --python-version {python} {abis} {platforms} --requirement {pending}",
        timeout=TIMEOUTS["wheelhouse"],
    )
    pending.rename(requirements)


@task
def build(
    ctx: Context, tag: str = "", offline: bool = False, release: str = RELEASE, image: str = IMAGE
) -> None:
    """Build the image (tagged `latest` and the version); `--offline`: from local pieces only."""
    _require_engine(ctx)
    arguments = ""
    if offline:
        base_image = base(ctx, release=release)
        wheelhouse(ctx, base=base_image)
        arguments = (
            f"--build-arg BASE_IMAGE={base_image} --build-arg UV_IMAGE={uv(ctx)}"
            " --build-arg WHEELS=wheelhouse "
        )
    tags = f"--tag {image}:latest --tag {image}:{tag or _version()}"
    started = time.monotonic()
    ctx.run(f"{build_command(ctx)} {arguments}{tags} .", timeout=TIMEOUTS["build"])
    print(f"containers: built {image}:latest in {time.monotonic() - started:.0f}s")


@task
def run(ctx: Context, args: str = "--help") -> None:
    """Run the image of the project with `args` for `bikes` (default: `--help`)."""
    _require_engine(ctx)
    ctx.run(f"docker run --rm --volume ./confs:/app/confs:ro {IMAGE}:latest {args}", pty=True)


@task
def smoke(ctx: Context, data: str = "", image: str = IMAGE) -> None:
    """Run `bikes --help`, then the preparation job on the data set, in the image without network.

    The data set (`--data`, else BIKES_DATA_SOURCE, else ../shared/...) is mounted read-only; the
    job writes its splits into a temporary folder mounted as `/app/data`.
    """
    _require_engine(ctx)
    source = Path(data or os.environ.get("BIKES_DATA_SOURCE") or DATA).resolve()
    if not source.is_file():
        raise Exit(f"containers: no data set at {source} (--data or BIKES_DATA_SOURCE).", code=1)
    docker = "docker run --rm --network none"
    started = time.monotonic()
    ctx.run(f"{docker} {image}:latest --help", hide="out", timeout=TIMEOUTS["run"])
    print(f"containers: `bikes --help` ran in {time.monotonic() - started:.1f}s")
    with tempfile.TemporaryDirectory(prefix="bikes-smoke-") as folder:
        Path(folder).chmod(0o777)  # the image's user (uid 10001) writes there
        mounts = f"--volume {source}:/data/hour.csv:ro --volume {folder}:/app/data"
        job = (
            f"{mounts} --env BIKES_DATA_SOURCE=/data/hour.csv {image}:latest confs/preparation.yaml"
        )
        started = time.monotonic()
        ctx.run(f"{docker} {job}", timeout=TIMEOUTS["run"])
        elapsed = time.monotonic() - started
        written = sorted(path.name for path in Path(folder).rglob("*") if path.is_file())
    print(f"containers: the preparation job ran in {elapsed:.1f}s and wrote {', '.join(written)}")


@task
def compose(ctx: Context, detach: bool = True) -> None:
    """Start the compose stack: MLflow (PostgreSQL + MinIO) and the `bikes` image."""
    _require_engine(ctx)
    result = ctx.run("docker compose version", hide=True, warn=True, echo=False)
    if result is None or not result.ok:
        raise Exit("containers: the Docker Compose plugin is missing (`docker compose`).", code=1)
    ctx.run("docker compose up --build" + (" --detach" if detach else ""))


@task(pre=[build], default=True)
def all(_: Context) -> None:  # noqa: A001 (the task name is part of the interface)
    """Run all the container tasks (build the image)."""
