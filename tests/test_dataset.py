"""Dataset folders: a run written as part files and a manifest is the single-file run, row for row.

Parts hold one block of 65,536 trials here (`part_blocks=1`), so that runs of a few hundred
thousand trials still have several parts, the last one short. Covered: equality with a
single-file run (summary JSON byte for byte, rows as Arrow tables) for each design and for
--columns metrics; the manifest against the files on disk; other readers (pyarrow.dataset,
polars, DuckDB, pandas); every way a dataset can be broken after the run (manifest, part
missing, resized, rewritten in place, rows misstated); strays removed at commit; an
interrupted run; object-store mode (no rename); file:// URIs; the rules for an existing
folder; and the CLI commands on a folder.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import simengine
from simengine import dataset
from simengine.api import load
from simengine.cli import main
from simengine.dataset import MANIFEST, STAGED_NAME, TEMP_NAME, Folder, read_manifest, verify_parts
from simengine.errors import OutputExistsError, ResultFileError
from simengine.runner import run
from simengine.streams import BLOCK_SIZE

SCENARIO = "crm_new_small_firm"
SEED = 17
#: Four parts of one block each, the last one short.
TRIALS = 3 * BLOCK_SIZE + 1_000
PARTS = [f"part-{i:09d}.parquet" for i in range(4)]


@pytest.fixture(scope="module")
def sc():
    return load(SCENARIO)


def run_dataset(sc, folder, trials=TRIALS, seed=SEED, part_blocks=1, **options):
    """A run written as a dataset of `part_blocks`-block parts into `folder` (a path, URI or Folder)."""
    out = folder if isinstance(folder, Folder) else Folder.of(folder)
    return run(sc, trials=trials, seed=seed, out=out, part_blocks=part_blocks, **options)


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text())


def summary_text(path: Path) -> str:
    """A stored summary (the manifest's, or a file's .summary.json) as one JSON text."""
    data = json.loads(path.read_text())
    return json.dumps(data["summary"] if path.name == MANIFEST else data)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file in a folder by name, with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def pair(tmp_path_factory, sc):
    """The same run (mc, all columns) as a 4-part dataset and as one file."""
    base = tmp_path_factory.mktemp("pair")
    run_dataset(sc, base / "ds")
    run(sc, trials=TRIALS, seed=SEED, out=base / "one.parquet")
    return base / "ds", base / "one.parquet"


# --- a dataset is the single-file run ---------------------------------------------------------

def assert_same_run(ds: Path, one: Path) -> None:
    """The dataset `ds` holds the run of the file `one`: summary JSON text and every row."""
    assert summary_text(ds / MANIFEST) == summary_text(one.with_name(one.stem + ".summary.json"))
    rows = simengine.open(ds).to_arrow()
    single = simengine.open(one).to_arrow()
    assert rows.num_rows == TRIALS and rows.column_names == single.column_names
    assert rows.equals(single)
    assert sorted(p.name for p in ds.iterdir()) == sorted(PARTS + [MANIFEST])


def test_a_dataset_is_the_single_file_run(pair):
    """mc, every column: summary JSON byte for byte and every row (trial order) agree."""
    assert_same_run(*pair)


@pytest.mark.parametrize("sampling,columns", [("lhs", "all"), ("sobol", "all"), ("mc", "metrics")],
                         ids=["lhs", "sobol", "metrics"])
def test_a_dataset_is_the_single_file_run_for_each_design_and_columns(tmp_path, sc, sampling, columns):
    """The same for Latin hypercube and Sobol' sampling and for --columns metrics (fewer columns)."""
    report = run_dataset(sc, tmp_path / "ds", sampling=sampling, columns=columns)
    run(sc, trials=TRIALS, seed=SEED, out=tmp_path / "one.parquet", sampling=sampling, columns=columns)
    assert json.dumps(report.summary) == summary_text(tmp_path / "one.summary.json")
    assert_same_run(tmp_path / "ds", tmp_path / "one.parquet")
    stored = pq.read_schema(tmp_path / "ds" / PARTS[0]).names
    assert ("benefits.realization" in stored) == (columns == "all") and "npv" in stored


def test_chunks_that_straddle_parts_give_the_same_dataset(tmp_path, sc, pair):
    """Chunks of 50,000 trials, split by the writer across part boundaries: the parts, the
    rows and the summary are those of the default chunk size (bit-identical for any chunk size)."""
    ds, one = pair
    run_dataset(sc, tmp_path / "ds", chunk_size=50_000)
    assert_same_run(tmp_path / "ds", one)
    assert [p["rows"] for p in manifest_of(tmp_path / "ds")["parts"]] == [p["rows"] for p in manifest_of(ds)["parts"]]


@pytest.mark.parametrize("limit", [0, 1, BLOCK_SIZE, BLOCK_SIZE + 7, 2 * BLOCK_SIZE, TRIALS, TRIALS + 5])
def test_head_reads_the_first_rows_across_parts_as_floats_with_nan_for_null(pair, limit):
    """`StoredResult.head` (the report's samples) gives the first `limit` rows of each column,
    straddling part boundaries, as float64 with NaN for a null, for a dataset and a file alike."""
    from simengine.stored import open_stored

    columns = ["npv", "irr", "payback_months", "go_live_month"]
    whole = pq.read_table(pair[1], columns=columns)
    for source in pair:
        got = open_stored(source).head(columns, limit)
        assert list(got) == columns
        for name in columns:
            want = whole.column(name).to_numpy(zero_copy_only=False).astype(float)[:limit]
            assert got[name].dtype == np.float64 and got[name].shape == (min(limit, TRIALS),)
            np.testing.assert_array_equal(got[name], want)
    assert np.isnan(open_stored(pair[0]).head(["payback_months"], TRIALS)["payback_months"]).any()


def test_open_recomputes_the_stored_summary(pair):
    """simengine.open of a folder recomputes the summary from the parts: it is the manifest's."""
    ds, _ = pair
    opened = simengine.open(ds)
    assert json.dumps(opened.summary.to_dict()) == summary_text(ds / MANIFEST)
    assert Path(opened.summary_path) == ds / MANIFEST


# --- the manifest against the files -------------------------------------------------------------

@pytest.mark.parametrize("trials,rows", [(TRIALS, [BLOCK_SIZE] * 3 + [1_000]), (2 * BLOCK_SIZE, [BLOCK_SIZE] * 2)],
                         ids=["last-part-short", "whole-blocks"])
def test_the_manifest_lists_the_parts_as_they_are_on_disk(tmp_path, sc, pair, trials, rows):
    """Parts in trial order, contiguous, rows summing to the trials, sizes and sha256 those of
    the files; each part is self-describing (simengine.scenario in its schema metadata);
    nothing else is left in the folder, no temporary file in particular."""
    if trials == TRIALS:
        folder = pair[0]
    else:
        folder = tmp_path / "ds"
        run_dataset(sc, folder, trials=trials)
    manifest = manifest_of(folder)
    assert manifest["format"] == "simengine-dataset" and manifest["format_version"] == 1
    parts = manifest["parts"]
    assert [p["name"] for p in parts] == PARTS[:len(rows)]
    assert [p["rows"] for p in parts] == rows and sum(p["rows"] for p in parts) == trials
    assert [p["first_trial"] for p in parts] == [i * BLOCK_SIZE for i in range(len(rows))]
    for p in parts:
        data = (folder / p["name"]).read_bytes()
        assert p["bytes"] == len(data)
        assert p["sha256"] == hashlib.sha256(data).hexdigest()
        assert pq.read_metadata(folder / p["name"]).num_rows == p["rows"]
        meta = pq.read_schema(folder / p["name"]).metadata
        assert b"simengine.scenario" in meta
        assert meta[b"simengine.scenario"].decode() == manifest["metadata"]["simengine.scenario"]
        trial = pq.read_table(folder / p["name"], columns=["trial"]).column("trial")
        assert trial.to_pylist() == list(range(p["first_trial"], p["first_trial"] + p["rows"]))
    assert manifest["metadata"]["simengine.trials"] == str(trials)
    assert manifest["metadata"]["simengine.seed"] == str(SEED)
    assert manifest["summary"]["trials"] == trials
    assert sorted(p.name for p in folder.iterdir()) == sorted([p["name"] for p in parts] + [MANIFEST])
    verify_parts(read_manifest(folder))  # an untouched dataset passes the full check


# --- other readers --------------------------------------------------------------------------------

def test_pyarrow_dataset_reads_every_row(pair):
    """pyarrow.dataset over the folder (the manifest is skipped as a `_` file) gives the rows."""
    import pyarrow.dataset as pads

    ds, one = pair
    table = pads.dataset(ds, format="parquet").to_table().sort_by("trial")
    assert table.equals(pq.read_table(one))


def test_polars_scans_the_parts(pair):
    """polars scans the parts by glob (the bare folder holds the manifest): the file's rows."""
    pl = pytest.importorskip("polars")
    ds, one = pair
    frame = pl.scan_parquet(f"{ds}/*.parquet").sort("trial").collect()
    assert frame.height == TRIALS
    assert frame.equals(pl.read_parquet(one))


def test_duckdb_reads_the_parts(pair):
    """DuckDB reads the parts by glob: every trial, the file's NPV total."""
    duckdb = pytest.importorskip("duckdb")
    ds, one = pair
    (got,) = duckdb.sql(f"select count(*), sum(npv) from read_parquet('{ds}/*.parquet')").fetchall()
    (want,) = duckdb.sql(f"select count(*), sum(npv) from read_parquet('{one}')").fetchall()
    assert got[0] == TRIALS
    assert got[1] == pytest.approx(want[1], rel=1e-12)


def test_pandas_reads_the_folder(pair):
    """pandas reads the bare folder (pyarrow skips the `_` manifest): the file's frame."""
    pd = pytest.importorskip("pandas")
    ds, one = pair
    frame = pd.read_parquet(ds).sort_values("trial").reset_index(drop=True)
    single = pd.read_parquet(one)
    assert len(frame) == TRIALS
    pd.testing.assert_frame_equal(frame, single)


# --- broken datasets --------------------------------------------------------------------------------

@pytest.fixture
def copy_of(pair, tmp_path):
    """A fresh copy of the pair's dataset folder, to break."""
    src, _ = pair
    dst = tmp_path / "ds"
    dst.mkdir()
    for p in src.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


def test_a_folder_without_manifest_is_no_result(copy_of):
    """No manifest, no result: the error names the missing manifest."""
    (copy_of / MANIFEST).unlink()
    with pytest.raises(ResultFileError, match=f"no {MANIFEST}"):
        simengine.open(copy_of)


def test_a_missing_part_is_named(copy_of):
    """A part listed in the manifest but gone is named."""
    (copy_of / PARTS[2]).unlink()
    with pytest.raises(ResultFileError, match=f"part {PARTS[2]} is missing"):
        simengine.open(copy_of)


@pytest.mark.parametrize("change", ["truncate", "append"])
def test_a_resized_part_is_refused(copy_of, change):
    """A part whose size is not the manifest's is refused by name before it is read."""
    path = copy_of / PARTS[1]
    data = path.read_bytes()
    path.write_bytes(data[:-100] if change == "truncate" else data + b"\0" * 100)
    with pytest.raises(ResultFileError, match=f"part {PARTS[1]} has .* bytes, the manifest says"):
        simengine.open(copy_of)


def test_a_misstated_total_row_count_is_refused(copy_of):
    """The last part's rows edited: the parts no longer hold the run's trials."""
    manifest = manifest_of(copy_of)
    manifest["parts"][-1]["rows"] += 1
    (copy_of / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ResultFileError, match="parts hold"):
        simengine.open(copy_of)


def test_a_misstated_part_row_count_is_refused(copy_of):
    """Rows moved between two parts in the manifest (still contiguous, same total): the part's
    own row count betrays the edit."""
    manifest = manifest_of(copy_of)
    manifest["parts"][0]["rows"] -= 1
    manifest["parts"][1]["first_trial"] -= 1
    manifest["parts"][1]["rows"] += 1
    (copy_of / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ResultFileError, match=f"part {PARTS[0]} holds 65,536 rows, the manifest says 65,535"):
        simengine.open(copy_of)


def test_parts_out_of_order_are_refused(copy_of):
    """A manifest whose parts are not in trial order is refused."""
    manifest = manifest_of(copy_of)
    manifest["parts"][1], manifest["parts"][2] = manifest["parts"][2], manifest["parts"][1]
    (copy_of / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ResultFileError, match="do not cover the trials in order"):
        simengine.open(copy_of)


def test_verify_parts_finds_a_byte_changed_in_place(copy_of):
    """One byte flipped in the middle of a part (size kept) passes the cheap size check but
    not the sha256 check, which names the part."""
    path = copy_of / PARTS[2]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    manifest = read_manifest(copy_of)  # sizes still agree
    with pytest.raises(ResultFileError, match=f"part {PARTS[2]} does not match its sha256"):
        verify_parts(manifest)


# --- commit and failure -----------------------------------------------------------------------------

def test_strays_are_removed_at_commit(tmp_path, sc, monkeypatch):
    """A temporary part and a part the run does not list (what a killed or repeated task
    leaves), present when the run commits, are gone after it; the result is unchanged."""
    folder = tmp_path / "ds"
    seen = []
    original = dataset.write_manifest

    def commit_with_strays(where, metadata, parts, summary):
        (folder / f".part-000000007.parquet.{'ab' * 16}.tmp").write_bytes(b"half a part")
        (folder / "part-000000099.parquet").write_bytes(b"a part of another run")
        seen.append(sorted(p.name for p in folder.iterdir()))
        return original(where, metadata, parts, summary)

    monkeypatch.setattr(dataset, "write_manifest", commit_with_strays)
    run_dataset(sc, folder)
    assert seen and "part-000000099.parquet" in seen[0]
    assert TEMP_NAME.fullmatch(f".part-000000007.parquet.{'ab' * 16}.tmp")
    assert sorted(p.name for p in folder.iterdir()) == sorted(PARTS + [MANIFEST])
    assert [p["name"] for p in manifest_of(folder)["parts"]] == PARTS


def test_write_manifest_removes_strays_and_lists_parts_in_order(copy_of):
    """dataset.write_manifest called with the parts in any order: strays go, parts sorted."""
    stored = read_manifest(copy_of)
    (copy_of / f".part-000000007.parquet.{'0f' * 16}.tmp").write_bytes(b"x")
    (copy_of / "part-000000099.parquet").write_bytes(b"y")
    before = manifest_of(copy_of)
    dataset.write_manifest(stored.folder, stored.metadata, list(reversed(stored.parts)), stored.summary)
    assert sorted(p.name for p in copy_of.iterdir()) == sorted(PARTS + [MANIFEST])
    assert manifest_of(copy_of) == before


def test_an_interrupted_run_leaves_nothing(tmp_path, sc):
    """A run stopped after some parts were written leaves no part, temporary file or manifest:
    a folder the run created is removed, one that existed is left empty."""
    folder = tmp_path / "ds"

    def stop(done):
        if done >= 2 * BLOCK_SIZE:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_dataset(sc, folder, on_chunk=stop, chunk_size=BLOCK_SIZE)
    assert not folder.exists()
    folder.mkdir()
    with pytest.raises(KeyboardInterrupt):
        run_dataset(sc, folder, on_chunk=stop, chunk_size=BLOCK_SIZE)
    assert list(folder.iterdir()) == []


# --- where parts are written: atomic rename, object stores, URIs --------------------------------

class RecordingFS:
    """A pyarrow filesystem that records the files opened for writing and the renames."""

    def __init__(self, fs, fail_move=False):
        self._fs, self.fail_move = fs, fail_move
        self.written: list[str] = []
        self.moves: list[tuple[str, str]] = []

    def __getattr__(self, name):
        return getattr(self._fs, name)

    def open_output_stream(self, path, *args, **kwargs):
        self.written.append(path.rsplit("/", 1)[1])
        return self._fs.open_output_stream(path, *args, **kwargs)

    def move(self, src, dest):
        self.moves.append((src.rsplit("/", 1)[1], dest.rsplit("/", 1)[1]))
        if self.fail_move:
            raise OSError("this store cannot rename")
        return self._fs.move(src, dest)


def test_on_a_local_disk_parts_go_through_temporary_and_staged_names(tmp_path, sc):
    """Each part is written under a hidden temporary name and renamed, when whole, to a staged
    name of the run; at the commit the staged parts take their names, then the manifest (itself
    written under a temporary name) is renamed last."""
    folder = Folder.of(tmp_path / "ds")
    fs = RecordingFS(folder.fs)
    run_dataset(sc, replace(folder, fs=fs))
    assert all(TEMP_NAME.fullmatch(name) for name in fs.written[:4])
    staged = [dest for _, dest in fs.moves[:4]]
    assert all(STAGED_NAME.fullmatch(name) for name in staged)
    assert len({STAGED_NAME.fullmatch(name).group(1) for name in staged}) == 1  # one run
    assert [src for src, _ in fs.moves[:4]] == fs.written[:4]
    assert fs.moves[4:8] == list(zip(staged, PARTS))
    assert fs.moves[8][1] == MANIFEST and len(fs.moves) == 9


def test_a_stopped_forced_run_leaves_the_earlier_dataset_whole(tmp_path, sc):
    """--force over a dataset: stopped after some of its parts are written, the run leaves the
    earlier dataset byte for byte (and nothing of its own); finished, it replaces it."""
    folder = tmp_path / "ds"
    run_dataset(sc, folder)
    before = snapshot(folder)

    def stop(done):
        if done >= 2 * BLOCK_SIZE:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_dataset(sc, folder, seed=SEED + 1, on_chunk=stop, chunk_size=BLOCK_SIZE, force=True)
    assert snapshot(folder) == before
    assert simengine.open(folder).to_arrow().num_rows == TRIALS
    replaced = run_dataset(sc, folder, trials=BLOCK_SIZE + 5, seed=SEED + 1, force=True)
    assert sorted(p.name for p in folder.iterdir()) == sorted(PARTS[:2] + [MANIFEST])
    assert manifest_of(folder)["metadata"]["simengine.seed"] == str(SEED + 1)
    assert json.dumps(simengine.open(folder).summary.to_dict()) == json.dumps(replaced.summary)


def test_what_a_killed_run_staged_is_cleared_by_the_next_forced_run(tmp_path, sc):
    """A staged part of a run killed before it could clean up (no manifest lists it) is ours, not
    a foreign file: the next --force run into the folder removes it."""
    folder = tmp_path / "ds"
    run_dataset(sc, folder)
    leftover = folder / f".part-000000000.parquet.{'cd' * 16}.staged"
    leftover.write_bytes(b"a part of a killed run")
    run_dataset(sc, folder, force=True)
    assert not leftover.exists() and sorted(p.name for p in folder.iterdir()) == sorted(PARTS + [MANIFEST])


def test_object_store_mode_writes_final_names_and_the_same_result(tmp_path, sc, pair):
    """With atomic_rename=False nothing is renamed (a rename would fail here) and no temporary
    file is ever created; rows and summary are the normal run's."""
    ds, _ = pair
    folder = Folder.of(tmp_path / "store", atomic_rename=False)
    assert not folder.atomic_rename
    fs = RecordingFS(folder.fs, fail_move=True)
    report = run_dataset(sc, replace(folder, fs=fs))
    assert fs.moves == []
    assert fs.written == PARTS + [MANIFEST]
    assert summary_text(tmp_path / "store" / MANIFEST) == summary_text(ds / MANIFEST)
    assert json.dumps(report.summary) == summary_text(ds / MANIFEST)
    assert simengine.open(tmp_path / "store").to_arrow().equals(simengine.open(ds).to_arrow())
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == sorted(PARTS + [MANIFEST])
    for p in manifest_of(tmp_path / "store")["parts"]:
        assert p["sha256"] == hashlib.sha256((tmp_path / "store" / p["name"]).read_bytes()).hexdigest()


def test_a_file_uri_is_a_dataset(tmp_path):
    """out="file:///.../ds/" writes a dataset; simengine.open of the URI gives the same summary."""
    uri = "file://" + str(tmp_path / "ds") + "/"
    result = simengine.run(SCENARIO, trials=3_000, seed=SEED, out=uri)
    assert (tmp_path / "ds" / MANIFEST).exists() and (tmp_path / "ds" / PARTS[0]).exists()
    opened = simengine.open(uri)
    assert json.dumps(opened.summary.to_dict()) == json.dumps(result.summary.to_dict())
    assert json.dumps(opened.summary.to_dict()) == summary_text(tmp_path / "ds" / MANIFEST)
    assert opened.to_arrow().num_rows == 3_000


def test_a_file_uri_with_several_parts(tmp_path, sc, pair):
    """A multi-part dataset written through a file:// URI is the one written to the path."""
    ds, _ = pair
    uri = "file://" + str(tmp_path / "ds")
    run_dataset(sc, uri)
    assert sorted(p.name for p in (tmp_path / "ds").iterdir()) == sorted(PARTS + [MANIFEST])
    assert summary_text(tmp_path / "ds" / MANIFEST) == summary_text(ds / MANIFEST)
    assert simengine.open(uri).to_arrow().equals(simengine.open(ds).to_arrow())


# --- an existing folder --------------------------------------------------------------------------

def test_an_existing_dataset_needs_force(tmp_path):
    """Without force the earlier dataset is refused and left byte for byte; with force it is
    replaced (a smaller run leaves none of the old parts)."""
    folder = tmp_path / "ds"
    simengine.run(SCENARIO, trials=BLOCK_SIZE + 10, seed=1, out=f"{folder}/")
    before = snapshot(folder)
    with pytest.raises(OutputExistsError, match="already holds a result dataset"):
        simengine.run(SCENARIO, trials=500, seed=2, out=f"{folder}/")
    with pytest.raises(OutputExistsError):
        simengine.run(SCENARIO, trials=500, seed=2, out=folder)  # an existing folder, no trailing /
    assert snapshot(folder) == before
    replaced = simengine.run(SCENARIO, trials=500, seed=2, out=f"{folder}/", force=True)
    assert sorted(p.name for p in folder.iterdir()) == [MANIFEST, PARTS[0]]
    manifest = manifest_of(folder)
    assert manifest["metadata"]["simengine.seed"] == "2" and manifest["parts"][0]["rows"] == 500
    assert json.dumps(simengine.open(folder).summary.to_dict()) == json.dumps(replaced.summary.to_dict())


def test_a_folder_with_foreign_files_is_refused_even_with_force(tmp_path):
    """A file simengine did not write is never deleted: the run is refused, everything kept."""
    folder = tmp_path / "ds"
    simengine.run(SCENARIO, trials=500, seed=1, out=f"{folder}/")
    (folder / "notes.txt").write_text("mine")
    before = snapshot(folder)
    for force in (False, True):
        with pytest.raises(OutputExistsError, match="notes.txt"):
            simengine.run(SCENARIO, trials=500, seed=2, out=f"{folder}/", force=force)
        assert snapshot(folder) == before


# --- the CLI ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """`simengine run` of the same run into a folder and into one file."""
    base = tmp_path_factory.mktemp("cli")
    runner = CliRunner()
    ds = runner.invoke(main, ["run", SCENARIO, "--trials", "3000", "--seed", "5", "--out", f"{base}/ds/", "-q"])
    one = runner.invoke(main, ["run", SCENARIO, "--trials", "3000", "--seed", "5", "--out", f"{base}/one.parquet",
                               "-q"])
    return base, ds, one


def test_cli_run_writes_a_dataset(cli_runs):
    """`run --out DIR/` exits 0 and writes one part and the manifest, whose summary is the file run's."""
    base, ds, one = cli_runs
    assert ds.exit_code == 0, ds.output
    assert one.exit_code == 0, one.output
    assert (base / "ds" / MANIFEST).exists()
    assert sorted(p.name for p in (base / "ds").iterdir()) == [MANIFEST, PARTS[0]]
    assert summary_text(base / "ds" / MANIFEST) == summary_text(base / "one.summary.json")


def test_cli_summarize_a_folder_prints_the_file_summary(cli_runs):
    """`summarize DIR` prints what `summarize FILE` prints (the NPV line included); --json too."""
    base, _, _ = cli_runs
    runner = CliRunner()
    folder = runner.invoke(main, ["summarize", str(base / "ds")])
    single = runner.invoke(main, ["summarize", str(base / "one.parquet")])
    assert folder.exit_code == 0 and single.exit_code == 0, (folder.output, single.output)
    npv = [line for line in single.stdout.splitlines() if line.startswith("NPV")]
    assert npv and all(line in folder.stdout.splitlines() for line in npv)
    assert folder.stdout == single.stdout
    as_json = runner.invoke(main, ["summarize", f"{base / 'ds'}/", "--json"])
    assert json.loads(as_json.stdout) == json.loads((base / "one.summary.json").read_text())


def test_cli_sensitivity_of_a_folder(cli_runs):
    """`sensitivity DIR` exits 0 and ranks the drivers exactly as for the file."""
    base, _, _ = cli_runs
    runner = CliRunner()
    folder = runner.invoke(main, ["sensitivity", str(base / "ds"), "--json"])
    single = runner.invoke(main, ["sensitivity", str(base / "one.parquet"), "--json"])
    assert folder.exit_code == 0, folder.output
    assert json.loads(folder.stdout) == json.loads(single.stdout)
    assert runner.invoke(main, ["sensitivity", str(base / "ds")]).exit_code == 0


def test_cli_report_of_a_folder(cli_runs):
    """`report DIR --out r.html` writes the page and leaves the dataset as it was."""
    base, _, _ = cli_runs
    res = CliRunner().invoke(main, ["report", str(base / "ds"), "--out", str(base / "r.html")])
    assert res.exit_code == 0, res.output
    assert (base / "r.html").exists() and (base / "r.html").stat().st_size > 0
    assert sorted(p.name for p in (base / "ds").iterdir()) == [MANIFEST, PARTS[0]]


def test_cli_summarize_a_folder_without_manifest(tmp_path):
    """A folder with no manifest: exit 2 and one line on stderr naming the missing manifest."""
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / PARTS[0]).write_bytes(b"PAR1")
    for target in (str(folder), f"{folder}/"):
        res = CliRunner().invoke(main, ["summarize", target])
        assert res.exit_code == 2, res.output
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1, res.stderr
        assert lines[0].startswith("Error: ") and f"no {MANIFEST}" in lines[0], lines[0]
        assert "Traceback" not in res.output and res.stdout == ""
