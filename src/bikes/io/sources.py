"""Obtain the raw data: download (with a cache), copy from the cloud, or use a local file."""

from __future__ import annotations

import hashlib
import shutil
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from loguru import logger

from bikes.core.errors import DataError
from bikes.io.configs import CLOUD_SCHEMES
from bikes.io.datasets import atomic_path

CHUNK_SIZE = 1 << 20
TIMEOUT_SECONDS = 60


def sha256(path: Path) -> str:
    """Return the SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(CHUNK_SIZE), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, path: Path) -> None:
    """Download a URL to a path atomically, showing progress."""
    from tqdm import tqdm

    try:
        with (
            urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response,  # noqa: S310  # nosec B310
            atomic_path(path) as temporary,
            temporary.open("wb") as file,
            tqdm(
                total=int(response.headers.get("Content-Length") or 0) or None,
                unit="B",
                unit_scale=True,
                desc=f"Downloading {path.name}",
                disable=None,
            ) as progress,
        ):
            for chunk in iter(lambda: response.read(CHUNK_SIZE), b""):
                file.write(chunk)
                progress.update(len(chunk))
    except urllib.error.HTTPError as error:
        message = f"{url}: download failed (HTTP {error.code} {error.reason}); "
        raise DataError(message + "set BIKES_DATA_SOURCE to a local copy") from error
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", None) or error
        message = f"{url}: download failed ({reason}); set BIKES_DATA_SOURCE to a local copy"
        raise DataError(message) from error


def fetch(source: str, cache_dir: Path) -> Path:
    """Return a local path to the source: a URL is downloaded once into the cache."""
    scheme = urllib.parse.urlparse(source).scheme
    if scheme in {"http", "https"}:
        name = Path(urllib.parse.unquote(urllib.parse.urlparse(source).path)).name or "download"
        path = cache_dir / name
        if path.exists():
            logger.info("Using cached {}", path)
        else:
            logger.info("Downloading {}", source)
            download(source, path)
        return path
    if source.startswith(CLOUD_SCHEMES):
        from cloudpathlib import AnyPath, CloudPath

        cloud = AnyPath(source)
        assert isinstance(cloud, CloudPath)  # noqa: S101  # a cloud scheme gives a cloud path
        path = cache_dir / cloud.name
        with atomic_path(path) as temporary:
            try:
                cloud.download_to(temporary)
            except Exception as error:  # cloudpathlib raises provider-specific exceptions
                raise DataError(f"{source}: cannot download ({error})") from error
        return path
    path = Path(urllib.parse.urlparse(source).path if scheme == "file" else source).expanduser()
    if not path.is_file():
        raise DataError(f"{source}: file not found")
    return path


def extract(archive: Path, member: str, cache_dir: Path) -> Path:
    """Return the path of `member`: extracted from a zip archive, or the file itself."""
    if not zipfile.is_zipfile(archive):
        return archive
    with zipfile.ZipFile(archive) as zip_file:
        names = [name for name in zip_file.namelist() if Path(name).name == member]
        if not names:
            raise DataError(f"{archive}: no {member} in the archive")
        path = cache_dir / member
        with (
            atomic_path(path) as temporary,
            zip_file.open(names[0]) as src,
            temporary.open("wb") as dst,
        ):
            shutil.copyfileobj(src, dst)
    return path


def verify(path: Path, expected: str) -> None:
    """Check the SHA-256 of a file, raising a `DataError` on mismatch."""
    actual = sha256(path)
    if actual != expected.lower():
        message = (
            f"{path}: SHA-256 mismatch: expected {expected}, got {actual} "
            "(a corrupt or different file; set job.sha256 to accept it on purpose)"
        )
        raise DataError(message)
