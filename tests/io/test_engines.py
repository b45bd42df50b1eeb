"""Tests of the inference engines: pandas in this process, and Dask on a real local cluster."""

from __future__ import annotations

import typing as T
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from bikes import jobs, scripts
from bikes.core.errors import ConfigError, DataError, InfraError
from bikes.io import configs, datasets, engines
from bikes.io.engines import partitions

CONFS = Path(__file__).parents[2] / "confs"
Registered = dict[str, str]


def split_parts(inputs: pd.DataFrame, folder: Path, rows: int, row_group: int) -> Path:
    """Write inputs as a folder of Parquet parts of `rows` rows, in row groups of `row_group`."""
    folder.mkdir()
    for number, start in enumerate(range(0, len(inputs), rows)):
        part = inputs.iloc[start : start + rows]
        part.to_parquet(folder / f"part-{number:02d}.parquet", row_group_size=row_group)
    return folder


@pytest.fixture
def parts(prepared: dict[str, Path], isolated: Path) -> Path:
    """Return the test inputs as a folder of 3 parts (150 rows each at most, row groups of 50)."""
    inputs = pd.read_parquet(prepared["inputs_test"])
    assert 300 < len(inputs) <= 450
    return split_parts(inputs, isolated / "inputs.parquet", rows=150, row_group=50)


def test_peak_memory_is_the_one_of_the_process_not_of_its_parent() -> None:
    import multiprocessing

    from bikes.io.engines import base

    ballast = bytearray(300 * 2**20)  # this process's peak is at least 300 MiB
    ballast[::4096] = b"x" * len(ballast[::4096])  # touched: resident
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        child = pool.apply(base.peak_memory)

    assert base.peak_memory() > 300 * 2**20 > child > 0
    del ballast


def test_plan_cuts_parts_into_row_groups_up_to_a_size(parts: Path) -> None:
    plan = partitions.plan(str(parts), max_rows=120)

    assert [(Path(part.file).name, part.row_groups) for part in plan[:3]] == [
        ("part-00.parquet", (0, 1)),  # 100 rows: a third row group would pass 120
        ("part-00.parquet", (2,)),
        ("part-01.parquet", (0, 1)),
    ]
    assert [part.number for part in plan] == list(range(len(plan))) == list(range(6))
    assert [part.offset for part in plan[:2]] == [0, 100]
    assert sum(part.rows for part in plan) == len(pd.read_parquet(parts))
    assert plan[1].name == "part-00001.parquet"
    assert plan[1].origin(batch=2) == f"{parts.resolve()}/part-00.parquet (partition 1, batch 2)"


def test_plan_keeps_the_limit_and_reads_a_range_index(isolated: Path) -> None:
    frame = pd.DataFrame({"value": range(10)}, index=pd.RangeIndex(100, 120, 2, name="instant"))
    frame.to_parquet("ranged.parquet", row_group_size=4)  # the index as metadata only

    plan = partitions.plan("ranged.parquet", max_rows=4, limit=7)
    read = pd.concat(batch for part in plan for batch in partitions.read(part, batch_size=3))

    assert [part.rows for part in plan] == [4, 3]
    pd.testing.assert_frame_equal(read, frame.iloc[:7])


def test_plan_of_a_missing_dataset_is_a_data_error() -> None:
    with pytest.raises(DataError, match=r"^missing\.parquet: file not found"):
        partitions.plan("missing.parquet", max_rows=10)


def test_local_engine_reads_a_folder_of_parts_in_order(
    registered_model: Registered, parts: Path
) -> None:
    job = jobs.InferenceJob(inputs=datasets.ParquetReader(path=str(parts)), batch_size=64)

    with job as runner:
        out = runner.run()

    outputs = pd.read_parquet(out.path)
    assert outputs.index.equals(pd.read_parquet(parts).index)
    assert out.rows == len(outputs) and out.workers == 1 and out.peak_memory > 0


def test_dask_engine_reads_and_writes_parquet_only() -> None:
    engine = engines.DaskEngine()
    with pytest.raises(ValueError, match="DaskEngine reads Parquet inputs only, not CSVReader"):
        jobs.InferenceJob(inputs=datasets.CSVReader(path="inputs.csv"), engine=engine)
    with pytest.raises(ValueError, match="DaskEngine writes Parquet outputs only, not CSVWriter"):
        jobs.InferenceJob(outputs=datasets.CSVWriter(path="outputs.csv"), engine=engine)


def test_dask_engine_refuses_an_unreachable_scheduler(registered_model: Registered) -> None:
    engine = engines.DaskEngine(address="tcp://127.0.0.1:1", connect_timeout=2)
    job = jobs.InferenceJob(engine=engine)

    with pytest.raises(InfraError, match=r"^tcp://127\.0\.0\.1:1: cannot reach the Dask scheduler"):
        with job as runner:
            runner.run()
    assert not Path("outputs/predictions.parquet").exists()


@pytest.mark.slow
@pytest.mark.integration
def test_the_shipped_dask_config_scores_like_the_local_engine_on_a_local_cluster(
    registered_model: Registered, parts: Path
) -> None:
    reader = datasets.ParquetReader(path=str(parts))
    with jobs.InferenceJob(inputs=reader, batch_size=64) as runner:
        local = pd.read_parquet(runner.run().path)
    Path("outputs/predictions.parquet").write_text("a previous output, replaced")
    extras = [f"job.inputs.path={parts}", "job.batch_size=64", "job.engine.n_workers=1"]
    extras += ["job.engine.partition_rows=120"]

    code = scripts.main([str(CONFS / "inference-dask.yaml"), "-e", *extras])

    assert code == 0
    folder = Path("outputs/predictions.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(folder), local, check_exact=True)
    written = sorted(path.name for path in folder.iterdir())
    assert written == [f"part-{number:05d}.parquet" for number in range(6)]  # 120 rows at most
    assert [path.name for path in Path("outputs").iterdir()] == ["predictions.parquet"]
    runs = mlflow.search_runs(order_by=["start_time DESC"], max_results=1, output_format="list")
    run = runs[0]
    assert run.data.params["engine"] == "DaskEngine"
    assert (run.data.metrics["rows"], run.data.metrics["workers"]) == (len(local), 1)
    assert run.inputs is not None
    assert [item.dataset.name for item in run.inputs.dataset_inputs] == ["inputs"]


@pytest.mark.slow
@pytest.mark.integration
def test_a_bad_partition_fails_the_dask_job_by_name_and_keeps_the_previous_output(
    registered_model: Registered, prepared: dict[str, Path], isolated: Path
) -> None:
    from distributed import LocalCluster

    inputs = pd.read_parquet(prepared["inputs_test"])
    bad_instant = int(inputs.index[200])
    inputs.loc[bad_instant, "hr"] = 24
    folder = split_parts(inputs, isolated / "bad.parquet", rows=150, row_group=50)
    Path("outputs/predictions.parquet").mkdir(parents=True)
    (Path("outputs/predictions.parquet") / "part-00000.parquet").write_text("previous")

    with LocalCluster(
        n_workers=1, threads_per_worker=1, dashboard_address="127.0.0.1:0"
    ) as cluster:
        engine = engines.DaskEngine(address=cluster.scheduler_address)  # joins a running cluster
        job = jobs.InferenceJob(inputs=datasets.ParquetReader(path=str(folder)), engine=engine)
        with pytest.raises(DataError) as error, job as runner:
            runner.run()

    message = str(error.value)
    assert message.startswith(f"{folder.resolve()}/part-01.parquet (partition 1, batch 1):")
    assert f"column 'hr' failed less_than_or_equal_to(23) at row {bad_instant}" in message
    previous = list(Path("outputs").iterdir())
    assert previous == [Path("outputs/predictions.parquet")]  # no temporary folder left
    assert (previous[0] / "part-00000.parquet").read_text() == "previous"


def test_the_shipped_dask_config_changes_one_key_from_the_local_one() -> None:
    from bikes import settings

    def job(name: str) -> dict[str, T.Any]:
        path = str(CONFS / name)
        obj = configs.to_object(configs.parse_file(path))
        return configs.validate(settings.MainSettings, obj, origin=path).job.model_dump()

    local, dask = job("inference.yaml"), job("inference-dask.yaml")
    assert {key for key in local if local[key] != dask[key]} == {"engine"}
    assert dask["engine"]["KIND"] == "DaskEngine" and dask["engine"]["address"] is None


def test_a_dask_engine_needs_parquet_in_a_config(
    write_config: T.Callable[[str, str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    text = "job:\n  KIND: InferenceJob\n  engine: {KIND: DaskEngine}\n"
    text += "  inputs: {KIND: CSVReader, path: inputs.csv}\n"
    config = write_config("bad.yaml", text)

    code = scripts.main([str(config)])

    assert code == ConfigError.exit_code
    assert "DaskEngine reads Parquet inputs only, not CSVReader" in capsys.readouterr().err
