"""Result files: the Arrow schema, Parquet writing with run metadata, and reading back.

One row per trial: `trial` (int64), every driver (float64, named by its dotted path;
events 0/1), every metric (nullable where docs/model.md says). The file's key-value metadata
holds the canonical scenario JSON, its sha256, seed, trials, sampling method, stream
layout, simengine version and schema version; at the end of the run the footer gains what
is known only then (the per-month cumulative-cash percentiles, `simengine.cash_fan`).
Files are written to a temporary name in the target folder and renamed only when complete,
so a failed run leaves no result.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ._version import __version__
from .errors import InputError, OutputExistsError, ResultFileError
from . import metrics as registry
from .jit import jit
from .lazy import LazyModule

#: pyarrow takes ~0.2 s to import: only when a file is written or read (not for --summary-only).
pa = LazyModule("pyarrow")
pq = LazyModule("pyarrow.parquet")

SCHEMA_VERSION = "1"
META_PREFIX = "simengine."
#: The registry's column types (simengine/metrics.py) as numpy types; as Arrow types, `arrow_type`.
NUMPY_TYPES = {"float64": np.float64, "int32": np.int32, "int64": np.int64}
NULLABLE_METRICS = {m.name for m in registry.METRICS if m.nullable}
INTEGER_DTYPES = {m.name: NUMPY_TYPES[m.dtype] for m in registry.METRICS if m.integer}


def arrow_type(dtype: str) -> "pa.DataType":
    """The Arrow type of a registry dtype name ("float64", "int32", "int64")."""
    return {"float64": pa.float64, "int32": pa.int32, "int64": pa.int64}[dtype]()


from .defaults import COLUMN_CHOICES  # noqa: E402,F401 - the choices, described once


def result_schema(drivers: list[str], metadata: dict[str, str], columns: str = "all") -> pa.Schema:
    """Arrow schema of a result file: `trial`, then the drivers and/or the metrics `columns` asks for."""
    fields = [pa.field("trial", pa.int64(), nullable=False)]
    if columns in ("all", "drivers"):
        fields += [pa.field(name, pa.float64(), nullable=False) for name in drivers]
    if columns in ("all", "metrics"):
        fields += [pa.field(m.name, arrow_type(m.dtype), nullable=m.nullable) for m in registry.METRICS]
    meta = {f"{META_PREFIX}{k}": v for k, v in metadata.items()}
    return pa.schema(fields, metadata=meta)


def run_metadata(scenario, seed: int, trials: int, sampling: str, stream_layout: str,
                 columns: str = "all") -> dict[str, str]:
    """The key-value metadata that makes a result file self-describing and reproducible."""
    return {
        "scenario": scenario.canonical_json,
        "scenario_sha256": scenario.sha256,
        "scenario_name": scenario.name,
        "seed": str(seed),
        "trials": str(trials),
        "sampling": sampling,
        "stream_layout": stream_layout,
        "columns": columns,
        "version": __version__,
        "schema_version": SCHEMA_VERSION,
        # a matrix repaired with --repair-correlations: each pair's requested and used Spearman
        **({"correlation_repairs": json.dumps([{"drivers": [a, b], "requested": old, "used": new}
                                               for a, b, old, new in scenario.correlation_repairs])}
           if getattr(scenario, "correlation_repairs", None) else {}),
    }


def nan_to_int_python(values, out, null):
    """Integer-valued floats -> `out`, with `null[i]` set where values[i] is NaN; True if any is."""
    any_null = False
    for i in range(values.shape[0]):
        v = values[i]
        if v != v:
            out[i] = 0
            null[i] = True
            any_null = True
        else:
            out[i] = int(v)
            null[i] = False
    return any_null


nan_to_int = jit(nan_to_int_python)


class TableBuilder:
    """Arrow tables of chunks for one schema, built in reused buffers (no per-chunk allocation).

    A table is valid until the next `table()` call: the writer writes each at once.
    """

    def __init__(self, schema: pa.Schema, chunk_size: int):
        self.schema = schema
        self._arange = np.arange(chunk_size, dtype=np.int64)
        self._trial = np.empty(chunk_size, dtype=np.int64)
        self._null = np.empty(chunk_size, dtype=np.bool_)
        self._ints = {m: np.empty(chunk_size, dtype=dtype) for m, dtype in INTEGER_DTYPES.items()}

    def table(self, start: int, drivers: dict[str, np.ndarray], metrics: np.ndarray) -> pa.Table:
        """An Arrow table of one chunk's trials (the schema's columns), NaN metrics turned into nulls."""
        n = metrics.shape[1]
        if n > self._trial.size:
            self.__init__(self.schema, n)
        trial = self._trial[:n]
        np.add(self._arange[:n], start, out=trial)
        arrays = [arrow_array(trial, pa.int64())]
        null = self._null[:n]
        for field in self.schema:
            if field.name == "trial":
                continue
            if field.name in drivers:
                arrays.append(arrow_array(drivers[field.name].astype(np.float64, copy=False), pa.float64()))
                continue
            col = metrics[registry.index(field.name)]
            if pa.types.is_integer(field.type):
                values = self._ints[field.name][:n]
                has_null = nan_to_int(col, values, null)
            else:
                values = col
                np.isnan(col, out=null)
                has_null = bool(null.any())
            arrays.append(arrow_array(values, field.type, null if has_null else None))
        return pa.Table.from_arrays(arrays, schema=self.schema)


def arrow_array(values: np.ndarray, arrow_type: "pa.DataType", null: np.ndarray | None = None) -> "pa.Array":
    """`pa.array(values, arrow_type, mask=null)` for a numpy column of that type's dtype, without
    pyarrow importing pandas (its first pa.array of a numpy array does: ~0.4 s). The data is
    shared, not copied (as pa.array does); the validity bitmap is packed from `null`."""
    values = np.ascontiguousarray(values)
    validity = None if null is None else pa.py_buffer(np.packbits(~null, bitorder="little"))
    return pa.Array.from_buffers(arrow_type, len(values), [validity, pa.py_buffer(values)])


def parquet_options(schema: pa.Schema) -> dict:
    """Writer settings: snappy (zstd saves ~8 % on random doubles but writes ~1.7x slower); float
    columns byte-stream-split (random doubles do not fit a
    dictionary, and split bytes compress better and faster); dictionary for integer columns."""
    floats = [f.name for f in schema if pa.types.is_floating(f.type)]
    others = [f.name for f in schema if not pa.types.is_floating(f.type)]
    return {"compression": "snappy", "use_dictionary": others,
            "column_encoding": {name: "BYTE_STREAM_SPLIT" for name in floats}}


def summary_path_for(result_path: Path) -> Path:
    """`results/x.parquet` -> `results/x.summary.json`."""
    return result_path.with_name(result_path.stem + ".summary.json")


#: Bytes a stored value takes in a result file, measured on the bundled scenarios (5.6 to 6.7:
#: random doubles barely compress); used to refuse a run the disk cannot hold, up front.
BYTES_PER_VALUE = 6.5


def check_disk_space(out: Path, trials: int, columns: int) -> None:
    """Refuse, before any work, a run whose result file would not fit on the disk at `out`
    (its temporary file and the finished one live there; a run that fills the disk midway
    would be lost anyway, after hours)."""
    need = trials * columns * BYTES_PER_VALUE
    folder = _existing_folder(out)
    free = shutil.disk_usage(folder).free
    if need > free:
        raise InputError(f"--trials {trials:,}: the result file would take about {_size(need)} "
                         f"({columns} columns), and {folder} has {_size(free)} free; use fewer "
                         "trials, --columns metrics, or --summary-only")


def _size(count: float) -> str:
    """A number of bytes for a message: '1.5 GiB', '12.3 MiB', '5 KiB'."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{math.ceil(count / 2**10):,} KiB"


def _existing_folder(path: Path) -> Path:
    """The nearest folder above `path` that exists (where its missing folders would be made)."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def check_writable(paths: list[Path], force: bool) -> None:
    """Refuse to overwrite existing outputs unless forced, and outputs that cannot be written at
    all (under a file, or in a folder that takes no new file): fail before any work is done."""
    probed: set[Path] = set()
    for path in paths:
        if path.exists() and not force:
            raise OutputExistsError(f"{path}: already exists; use --force to overwrite it")
        if path.exists() and path.is_dir():
            raise OutputExistsError(f"{path}: is a folder")
        folder = _existing_folder(Path(path))
        if folder in probed:  # a report's PNGs share one folder: probed once
            continue
        if not folder.is_dir():
            raise InputError(f"{path}: cannot be written: {folder} is a file, not a folder")
        try:  # the one sure test of a folder's permissions (root, read-only mounts, /proc)
            fd, probe = tempfile.mkstemp(prefix=".simengine-probe.", dir=folder)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise InputError(f"{path}: cannot be written in {folder} ({exc.strerror or exc})") from None
        probed.add(folder)


def check_not_inputs(outputs, inputs) -> None:
    """Refuse an output that is one of the command's inputs, with --force or not: writing it
    would destroy what the command reads (a report named like its result, `--out` naming the
    scenario file). Paths are compared as the files they name; URIs are left alone."""
    def local(p) -> Path | None:
        return None if p is None or "://" in str(p) else Path(p)

    sources = [q for q in map(local, inputs) if q is not None and q.exists()]
    for out in map(local, outputs):
        if out is None or not out.exists():
            continue
        for source in sources:
            if out.resolve() == source.resolve() or os.path.samefile(out, source):
                raise InputError(f"{out}: is this command's input ({source}); write the output to another path")


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class AtomicFile:
    """A temporary file beside `target`, renamed onto it by `commit()`, removed by `discard()`."""

    def __init__(self, target: Path):
        self.target = target
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
        os.close(fd)
        self.temp = Path(name)

    def commit(self) -> None:
        # mkstemp creates 0600; give the result the permissions a plain open() would.
        os.chmod(self.temp, 0o666 & ~_current_umask())
        os.replace(self.temp, self.target)

    def discard(self) -> None:
        self.temp.unlink(missing_ok=True)


class ResultWriter:
    """Streams chunks into a Parquet file as row groups; the file appears only on `close()`."""

    def __init__(self, target: Path, schema: pa.Schema, chunk_size: int = 1 << 17):
        self.schema = schema
        self._tables = TableBuilder(schema, chunk_size)
        self._file = AtomicFile(target)
        try:
            self._writer = pq.ParquetWriter(self._file.temp, schema, **parquet_options(schema))
        except BaseException:
            self._file.discard()
            raise

    def write(self, start: int, drivers: dict[str, np.ndarray], metrics: np.ndarray) -> None:
        self._writer.write_table(self._tables.table(start, drivers, metrics))

    def add_metadata(self, metadata: dict[str, str]) -> None:
        """Key-value metadata for the file's footer (known only at the end of the run)."""
        self._writer.add_key_value_metadata({f"{META_PREFIX}{k}": v for k, v in metadata.items()})

    def close(self) -> None:
        self._writer.close()
        self._file.commit()

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            self._file.discard()


def write_bytes_atomic(target: Path, data: bytes) -> None:
    """Write a file through a temporary one beside it, so a reader never sees half of it."""
    f = AtomicFile(target)
    try:
        f.temp.write_bytes(data)
        f.commit()
    except BaseException:
        f.discard()
        raise


def write_json_atomic(target: Path, data: dict) -> None:
    write_bytes_atomic(target, (json.dumps(data, indent=2, allow_nan=False) + "\n").encode("utf-8"))


def read_head(path: Path, columns: list[str], limit: int) -> dict[str, np.ndarray]:
    """The first `limit` rows of some columns of a result (file or dataset) as float arrays (null = NaN)."""
    from .stored import open_stored

    return open_stored(path).head(columns, limit)


def read_metadata(path: Path) -> dict[str, str]:
    """The simengine key-value metadata of a result file (prefix stripped)."""
    if not path.exists():
        raise ResultFileError(f"{path}: no such result file")
    try:
        parquet = pq.ParquetFile(path)
        meta = parquet.metadata.metadata or {}  # the footer's: schema's and end-of-run keys
    except (pa.ArrowInvalid, OSError) as exc:
        raise ResultFileError(f"{path}: not a Parquet file ({exc})") from None
    out = {k.decode()[len(META_PREFIX):]: v.decode() for k, v in meta.items()
           if k.decode().startswith(META_PREFIX)}
    if out.get("kind") == "portfolio":
        raise PortfolioResultError(f"{path}: a portfolio's result (simengine portfolio): its summary is "
                                   f"{summary_path_for(path).name} beside it and `simengine report` writes its page; "
                                   "this command reads one scenario's results")
    if "scenario" not in out:
        raise ResultFileError(f"{path}: not a simengine result (no simengine metadata)")
    check_stored_table(path, parquet, out)
    check_stored_metadata(path, out)
    return out


class PortfolioResultError(ResultFileError):
    """A portfolio's result file given to a command that reads one scenario's results."""


def is_portfolio_result(path: Path) -> bool:
    """Whether `path` is a Parquet file written by `simengine portfolio`."""
    try:
        meta = pq.ParquetFile(path).metadata.metadata or {}
    except (pa.ArrowInvalid, OSError):
        return False
    return meta.get(f"{META_PREFIX}kind".encode()) == b"portfolio"


def check_stored_metadata(path: Path, meta: dict[str, str]) -> None:
    """The run's facts in the metadata are what simengine writes: a whole seed, a known
    sampling design and a scenario that still validates (one line naming the key, else)."""
    from .designs import SAMPLING_METHODS
    from .errors import SimengineError
    from .scenario import scenario_from_json

    def bad(key: str, problem: str) -> ResultFileError:
        return ResultFileError(f"{path}: metadata {META_PREFIX}{key} {problem}; the file was changed after "
                               "simengine wrote it")

    version = meta.get("schema_version", SCHEMA_VERSION)
    if not version.isdigit():
        raise bad("schema_version", f"is {version!r}, not a whole number")
    if int(version) > int(SCHEMA_VERSION):
        raise ResultFileError(f"{path}: written by a newer simengine (result schema {version}; this version reads "
                              f"schema {SCHEMA_VERSION}): upgrade simengine to read it")
    try:
        seed = int(meta.get("seed", ""))
    except ValueError:
        raise bad("seed", f"is {meta.get('seed')!r}, not a whole number") from None
    if not 0 <= seed < 2**63:
        raise bad("seed", f"is {seed}, outside 0 .. 2^63 - 1")
    if meta.get("sampling", "mc") not in SAMPLING_METHODS:
        raise bad("sampling", f"is {meta.get('sampling')!r}, not one of {', '.join(SAMPLING_METHODS)}")
    try:
        scenario_from_json(meta["scenario"])
    except json.JSONDecodeError as exc:
        raise bad("scenario", f"is not valid JSON ({exc.msg} at character {exc.pos})") from None
    except SimengineError as exc:
        raise bad("scenario", f"does not validate ({exc})") from None


def check_stored_table(path: Path, parquet: pq.ParquetFile, meta: dict[str, str]) -> None:
    """A result file still holds what simengine wrote: as many rows as its metadata says, and
    numbers in every column. A file edited or rewritten since would otherwise be summarized
    silently wrong, or fail deep inside numpy."""
    rows = parquet.metadata.num_rows
    try:
        trials = int(meta.get("trials", ""))
    except ValueError:
        raise ResultFileError(f"{path}: its metadata has no valid trial count "
                              f"(simengine.trials = {meta.get('trials')!r})") from None
    if rows != trials:
        raise ResultFileError(f"{path}: holds {rows:,} rows but its metadata says {trials:,} trials; the file "
                              "was changed after simengine wrote it")
    for field in parquet.schema_arrow:
        if not (pa.types.is_integer(field.type) or pa.types.is_floating(field.type)):
            raise ResultFileError(f"{path}: column {field.name} holds {field.type}, not numbers; the file was "
                                  "changed after simengine wrote it")
