"""Tests of obtaining the raw data: downloads over loopback HTTP, archives and checksums."""

from __future__ import annotations

import functools
import http.server
import threading
import typing as T
import zipfile
from pathlib import Path

import pytest

from bikes.core.errors import DataError
from bikes.io import sources


@pytest.fixture
def http_root(tmp_path: Path) -> T.Iterator[tuple[str, Path]]:
    """Serve a folder over HTTP on 127.0.0.1 (a real server, stopped after the test)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def zip_hours(hours_csv: Path, archive: Path) -> None:
    with zipfile.ZipFile(archive, "w") as zip_file:
        zip_file.writestr("Readme.txt", "license")
        zip_file.write(hours_csv, "bike-sharing/hour.csv")


def test_download_then_use_the_cache(
    http_root: tuple[str, Path], hours_csv: Path, hours_sha256: str, tmp_path: Path
) -> None:
    url, root = http_root
    zip_hours(hours_csv, root / "bike+sharing+dataset.zip")
    cache = tmp_path / "cache"
    archive = sources.fetch(f"{url}/bike+sharing+dataset.zip", cache_dir=cache)
    assert archive == cache / "bike+sharing+dataset.zip"
    (root / "bike+sharing+dataset.zip").unlink()  # a second fetch must not hit the server
    assert sources.fetch(f"{url}/bike+sharing+dataset.zip", cache_dir=cache) == archive
    path = sources.extract(archive, member="hour.csv", cache_dir=cache)
    sources.verify(path, expected=hours_sha256)
    assert path.read_bytes() == hours_csv.read_bytes()


def test_failed_download_names_the_url_and_leaves_nothing(
    http_root: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = http_root
    with pytest.raises(DataError, match=rf"^{url}/missing.zip: download failed \(HTTP 404 "):
        sources.fetch(f"{url}/missing.zip", cache_dir=tmp_path / "cache")
    assert not any((tmp_path / "cache").glob("*"))


def test_local_paths_and_file_urls(hours_csv: Path, tmp_path: Path) -> None:
    assert sources.fetch(str(hours_csv), cache_dir=tmp_path) == hours_csv
    assert sources.fetch(hours_csv.as_uri(), cache_dir=tmp_path) == hours_csv
    assert sources.extract(hours_csv, member="hour.csv", cache_dir=tmp_path) == hours_csv
    with pytest.raises(DataError, match="^nowhere.csv: file not found$"):
        sources.fetch("nowhere.csv", cache_dir=tmp_path)


def test_archive_without_the_member(tmp_path: Path) -> None:
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as zip_file:
        zip_file.writestr("day.csv", "x")
    with pytest.raises(DataError, match="other.zip: no hour.csv in the archive"):
        sources.extract(archive, member="hour.csv", cache_dir=tmp_path)


def test_checksum_mismatch_names_both_digests(hours_csv: Path, hours_sha256: str) -> None:
    wrong = "0" * 64
    with pytest.raises(DataError, match=f"expected {wrong}, got {hours_sha256}"):
        sources.verify(hours_csv, expected=wrong)
