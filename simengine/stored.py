"""A stored result, one Parquet file or a dataset folder, read the same way.

`open_stored(path)` gives the run metadata, the Arrow schema and the rows in trial order
(batch by batch, or some columns whole), whichever form the run was written in: what
`summarize`, `report`, `sensitivity` and `simengine.open` read through.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .errors import ResultFileError


@dataclass
class StoredResult:
    """A result's metadata (prefix stripped), schema and files in trial order."""

    where: str
    metadata: dict[str, str]
    schema: pa.Schema
    num_rows: int
    _open: list  # callables returning a pq.ParquetFile, one per file, in trial order
    #: the files in trial order, as paths or URIs other readers (polars, DuckDB) accept
    files: list[str]
    manifest: object | None = None  # dataset.Manifest for a dataset

    @property
    def is_dataset(self) -> bool:
        return self.manifest is not None

    def iter_batches(self, columns: list[str], batch_size: int = 1 << 17,
                     use_threads: bool = True) -> Iterator[pa.RecordBatch]:
        """The rows of `columns` in trial order, batch by batch (memory does not grow with trials)."""
        for open_file in self._open:
            yield from open_file().iter_batches(columns=columns, batch_size=batch_size, use_threads=use_threads)

    def read(self, columns: list[str]) -> pa.Table:
        """Some columns of every row, in trial order, as one table."""
        tables = [open_file().read(columns=columns) for open_file in self._open]
        return pa.concat_tables(tables) if len(tables) != 1 else tables[0]

    def head(self, columns: list[str], limit: int) -> dict[str, np.ndarray]:
        """The first `limit` rows of some columns as float arrays (null = NaN), each filled in
        place batch by batch: no second copy of the values while reading. Decoded on this thread:
        for a few columns pyarrow's pool gains no time, and its threads' buffers cost ~10 MiB."""
        out = {c: np.empty(max(0, min(limit, self.num_rows))) for c in columns}
        rows = 0
        for batch in self.iter_batches(columns, 1 << 16, use_threads=False):
            take = min(batch.num_rows, limit - rows)
            if take <= 0:
                break
            for c in columns:
                out[c][rows:rows + take] = batch.column(c).slice(0, take).to_numpy(zero_copy_only=False)
            rows += take
        return {c: v[:rows] for c, v in out.items()}


def require_columns(stored: StoredResult, needed, drivers, message: str) -> None:
    """Refuse a result that lacks columns a command needs (`drivers`: the scenario's). When its
    metadata says they were not stored (`--columns`), the refusal is `message`; when it says
    they were, the file is older than the column or was changed since, and the refusal says that."""
    missing = [c for c in needed if c not in stored.schema.names]
    if not missing:
        return
    columns = stored.metadata.get("columns", "all")
    kept = {"all": ("metrics", "drivers"), "metrics": ("metrics",), "drivers": ("drivers",)}.get(columns, ())
    if ("drivers" if missing[0] in set(drivers) else "metrics") in kept:
        raise ResultFileError(f"{stored.where}: its metadata says --columns {columns}, yet it has no column "
                              f"{missing[0]}: it was written by an older simengine or changed since; run the "
                              "scenario again")
    raise ResultFileError(f"{stored.where}: {message}")


def open_stored(path: "str | Path | StoredResult") -> StoredResult:
    """A result file or dataset folder, its metadata checked (see `output.read_metadata`);
    one already open is returned as it is (opening a dataset reads every part's footer)."""
    if isinstance(path, StoredResult):
        return path
    from .dataset import MANIFEST, is_dataset_target, read_manifest
    from .output import check_stored_metadata, read_metadata

    if not is_dataset_target(path):
        path = Path(path)
        meta = read_metadata(path)
        parquet = pq.ParquetFile(path)
        # pyarrow's pre_buffer reads a row group's column chunks ahead in coalesced requests: worth
        # it on an object store; on a local disk it holds them twice for no speed (the report's read
        # of 4 columns of 1e6 trials peaked 30 MiB higher with it, and took as long)
        return StoredResult(str(path), meta, parquet.schema_arrow, parquet.metadata.num_rows,
                            [lambda: pq.ParquetFile(path, pre_buffer=False)], [str(path)])
    manifest = read_manifest(path)
    folder = manifest.folder
    if not manifest.parts:
        raise ResultFileError(f"{folder.uri}: {MANIFEST} lists no parts")

    def opener(name: str):
        return lambda: pq.ParquetFile(folder.fs.open_input_file(folder.file(name)), pre_buffer=not folder.is_local)

    openers = [opener(p.name) for p in manifest.parts]
    schema = None
    for p, open_file in zip(manifest.parts, openers):
        try:
            parquet = open_file()
        except (pa.ArrowInvalid, OSError) as exc:
            raise ResultFileError(f"{folder.uri}: part {p.name} is not a Parquet file ({exc})") from None
        if parquet.metadata.num_rows != p.rows:
            raise ResultFileError(f"{folder.uri}: part {p.name} holds {parquet.metadata.num_rows:,} rows, the "
                                  f"manifest says {p.rows:,}; it was changed after simengine wrote it")
        if schema is None:
            schema = parquet.schema_arrow
        elif not parquet.schema_arrow.equals(schema, check_metadata=False):
            raise ResultFileError(f"{folder.uri}: part {p.name} has other columns than {manifest.parts[0].name}")
    for field in schema:
        if not (pa.types.is_integer(field.type) or pa.types.is_floating(field.type)):
            raise ResultFileError(f"{folder.uri}: column {field.name} holds {field.type}, not numbers; the dataset "
                                  "was changed after simengine wrote it")
    check_stored_metadata(Path(folder.uri), manifest.metadata)
    files = [str(folder.location(p.name)) for p in manifest.parts]
    return StoredResult(folder.uri, manifest.metadata, schema, sum(p.rows for p in manifest.parts), openers, files,
                        manifest)
