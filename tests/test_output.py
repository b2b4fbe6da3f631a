"""Result files read back by pyarrow, pandas, polars and DuckDB, with their metadata."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simengine.output import read_metadata
from simengine.runner import run
from simengine.scenario import scenario_from_json
from support import scenario

EVENTS = {"fail": {"probability": 0.3, "cost": {"dist": "uniform", "min": 1000, "max": 9000}, "delay_months": 2}}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    sc = scenario(events=EVENTS, horizon_months=24,
                  schedule={"planned_months": {"dist": "uniform", "min": 4, "max": 30}})
    path = tmp_path_factory.mktemp("out") / "r.parquet"
    report = run(sc, trials=5000, seed=3, out=path, chunk_size=1500)
    return sc, path, report


def test_schema_types_and_nullability(result):
    sc, path, _ = result
    schema = pq.read_schema(path)
    assert schema.field("trial").type == pa.int64()
    for name in sc.drivers():
        assert schema.field(name).type == pa.float64()
    assert "events.fail.occurred" in schema.names and "costs.lic.amount" not in schema.names  # fixed: not a driver
    assert schema.field("payback_months").type == pa.int32() and schema.field("payback_months").nullable
    assert not schema.field("npv").nullable
    table = pq.read_table(path)
    assert table.num_rows == 5000 and pq.ParquetFile(path).num_row_groups == 4
    assert table.column("trial").to_pylist() == list(range(5000))
    assert set(np.unique(table.column("events.fail.occurred").to_numpy())) == {0.0, 1.0}
    # go-live after the 24-month horizon: no benefits, so no IRR and no payback (nulls, not zeros)
    late = table.filter(pa.compute.greater_equal(table.column("go_live_month"), 24))
    assert late.num_rows > 0
    assert late.column("irr").null_count == late.num_rows
    assert late.column("payback_months").null_count == late.num_rows


def test_metadata_makes_the_file_self_describing(result):
    sc, path, _ = result
    meta = read_metadata(path)
    assert meta["seed"] == "3" and meta["trials"] == "5000" and meta["sampling"] == "mc"
    assert meta["scenario_sha256"] == sc.sha256
    assert scenario_from_json(meta["scenario"]) == sc
    assert meta["schema_version"] == "1" and meta["version"]


def test_pandas_reads_it(result):
    pd = pytest.importorskip("pandas")
    df = pd.read_parquet(result[1])
    assert len(df) == 5000 and df["payback_months"].isna().any()
    assert df["npv"].mean() == pytest.approx(result[2].summary["metrics"]["npv"]["mean"]["value"], rel=1e-12)


def test_polars_reads_it(result):
    pl = pytest.importorskip("polars")
    df = pl.read_parquet(result[1])
    assert df.height == 5000 and df["irr"].null_count() > 0
    assert df.schema["trial"] == pl.Int64


def test_duckdb_reads_it(result):
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    n, mean_npv, n_null = con.execute(
        f"select count(*), avg(npv), count(*) - count(payback_months) from read_parquet('{result[1]}')").fetchone()
    assert n == 5000
    assert mean_npv == pytest.approx(result[2].summary["metrics"]["npv"]["mean"]["value"], rel=1e-9)
    assert n_null == result[2].summary["metrics"]["payback_months"]["n_null"]
    meta = dict(con.execute(f"select key::varchar, value::varchar from parquet_kv_metadata('{result[1]}')").fetchall())
    assert meta["simengine.seed"] == "3"


def test_summary_json_is_next_to_the_file(result):
    _, path, report = result
    stored = json.loads(path.with_name("r.summary.json").read_text())
    assert stored == report.summary


@pytest.mark.parametrize("dtype, arrow", [(np.float64, pa.float64()), (np.int64, pa.int64()), (np.int32, pa.int32())])
def test_arrow_array_is_pa_array(dtype, arrow):
    """The writer's columns without pa.array (whose first call on numpy imports pandas)."""
    from simengine.output import arrow_array

    rng = np.random.default_rng(1)
    values = (rng.normal(size=1001) * 1000).astype(dtype)
    null = rng.random(1001) < 0.1
    for mask in (None, null, np.zeros(1001, dtype=bool)):
        got = arrow_array(values, arrow, mask)
        assert got.type == arrow and got.equals(pa.array(values, type=arrow, mask=mask))
        assert got.null_count == (0 if mask is None else int(mask.sum()))
    assert arrow_array(values[::2], arrow).equals(pa.array(values[::2], type=arrow))  # strided: copied


@pytest.mark.parametrize("summary_only", [False, True])
def test_a_run_loads_no_pandas_and_pyarrow_only_to_write(tmp_path, summary_only):
    import subprocess
    import sys

    where = ["--summary-only"] if summary_only else ["--out", str(tmp_path / "r.parquet")]
    code = ("import sys\nfrom simengine.cli import main\n"
            f"sys.argv = ['simengine', 'run', 'deterministic_example', '-n', '300', *{where!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('pandas' in sys.modules, 'pyarrow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == f"False {not summary_only}"
