"""Result datasets: a run's rows as a folder of Parquet part files and a manifest written last.

A part holds the trials of one task (`part-<first block>.parquet`, every part the same
schema and run metadata as a single result file). Where the filesystem can rename
atomically (a local disk, HDFS) a part is written under a hidden temporary name and renamed
when complete, so a part that exists is whole; on object stores (S3, GCS, ...), which
cannot rename, it is written under its final name. Where it can, a run's finished parts also
wait under hidden staged names (`.part-<first block>.parquet.<run>.staged`) until the run
commits, so that a `--force` run over an earlier dataset leaves that dataset whole until then:
stopped midway, the earlier result is still there. Either way the manifest `_simengine.json`,
written last, is the commit: it lists each part with its row count, size and sha256, holds
the run metadata and the summary, and a reader trusts only the parts it lists. No manifest,
no result. Folders and URIs go through pyarrow's filesystems, so the same code writes to a
local folder, `file://`, `s3://`, `gs://` or `hdfs://`.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .errors import InputError, OutputExistsError, ResultFileError
from .lazy import LazyModule
from .output import META_PREFIX, TableBuilder, parquet_options
from .streams import BLOCK_SIZE

#: pyarrow (~0.2 s to import) only when a dataset is written or read: runner.py imports this module.
pa = LazyModule("pyarrow")
pafs = LazyModule("pyarrow.fs")
pq = LazyModule("pyarrow.parquet")

MANIFEST = "_simengine.json"
FORMAT = "simengine-dataset"
FORMAT_VERSION = 1
#: Blocks of trials in a part (and in a cluster task): 16 x 65,536 = 1,048,576 trials, a
#: second or two of one core's work, so that scheduling costs little against it.
PART_BLOCKS = 16
PART_NAME = re.compile(r"part-(\d{9})\.parquet")
TEMP_NAME = re.compile(r"\.part-\d{9}\.parquet\.[0-9a-f]{32}\.tmp")
#: A finished part of a run not yet committed (filesystems that rename atomically): see `Folder.stage`.
STAGED_NAME = re.compile(r"\.part-\d{9}\.parquet\.([0-9a-f]{32})\.staged")
#: Filesystems (pyarrow's type names) whose rename is atomic: parts go through a temporary name.
ATOMIC_RENAME = ("local", "hdfs")


def part_name(first_block: int) -> str:
    """The file name of the part whose first trial opens block `first_block`."""
    return f"part-{first_block:09d}.parquet"


def staged_name(name: str, stage: str) -> str:
    """Where part `name` of the run `stage` waits for the commit."""
    return f".{name}.{stage}.staged"


def is_dataset_target(out: str | Path) -> bool:
    """Whether `--out` names a dataset folder: a URI, a path ending in a separator, or a folder."""
    text = str(out)
    if not text.strip():
        return False  # not a name at all: the caller says so
    return "://" in text or text.endswith(("/", "\\")) or Path(text).is_dir()


@dataclass(frozen=True)
class Folder:
    """A dataset folder on some pyarrow filesystem: where parts and the manifest go."""

    fs: pafs.FileSystem
    path: str  # the folder's path on `fs`
    uri: str  # as the user gave it, for messages
    atomic_rename: bool
    #: The run writing here (a hex id, set by the runner where rename is atomic): its parts are
    #: staged until its commit, and an earlier dataset stays until then. None: parts go straight
    #: to their names, and a forced run empties the folder first.
    stage: str | None = None

    def staged(self) -> "Folder":
        """This folder for one run: staged parts where rename is atomic (see `stage`)."""
        return replace(self, stage=uuid.uuid4().hex) if self.atomic_rename else self

    @classmethod
    def of(cls, out: str | Path, atomic_rename: bool | None = None) -> "Folder":
        """The folder `out` names (a local path or a URI pyarrow understands)."""
        text = str(out)
        try:
            if "://" in text:
                fs, path = pafs.FileSystem.from_uri(text)
            else:
                fs, path = pafs.LocalFileSystem(), str(Path(text).expanduser().resolve())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, ValueError) as exc:
            raise InputError(f"--out {text}: not a folder or URI pyarrow can open ({exc})") from None
        path = path.rstrip("/") or "/"
        rename = fs.type_name in ATOMIC_RENAME if atomic_rename is None else atomic_rename
        return cls(fs, path, text, rename)

    @property
    def is_local(self) -> bool:
        return self.fs.type_name == "local"

    def location(self, name: str | None = None) -> Path | str:
        """The folder (or a file in it) as a user names it: a local path, else a URI."""
        if self.is_local and "://" not in self.uri:
            given = Path(self.uri.rstrip("/\\") or "/")
            return given / name if name else given
        base = self.uri.rstrip("/")
        return f"{base}/{name}" if name else base

    def file(self, name: str) -> str:
        if "/" in name or "\\" in name or name in ("", ".", ".."):
            raise ValueError(f"{name!r} is not a file name")  # workers write only inside the folder
        return f"{self.path}/{name}"

    def names(self) -> list[str]:
        """The names of the files in the folder (none if it does not exist)."""
        try:
            infos = self.fs.get_file_info(pafs.FileSelector(self.path, allow_not_found=True))
        except (OSError, pa.ArrowInvalid) as exc:
            raise InputError(f"--out {self.uri}: cannot list the folder ({exc})") from None
        return sorted(info.base_name for info in infos)

    def exists(self) -> bool:
        return self.fs.get_file_info(self.path).type != pafs.FileType.NotFound

    def delete(self, name: str) -> None:
        try:
            self.fs.delete_file(self.file(name))
        except FileNotFoundError:
            pass

    def write_bytes(self, name: str, data: bytes) -> None:
        """Write a small file whole: through a temporary name where rename is atomic."""
        target = self.file(name)
        temp = self.file(f".{name}.{uuid.uuid4().hex}.tmp") if self.atomic_rename else target
        try:
            with self.fs.open_output_stream(temp) as stream:
                stream.write(data)
            if temp != target:
                self.fs.move(temp, target)
        except BaseException:
            if temp != target:
                self.delete(temp.rsplit("/", 1)[1])
            raise


@dataclass(frozen=True)
class PartInfo:
    """A part as the manifest lists it."""

    name: str
    first_trial: int
    rows: int
    bytes: int
    sha256: str


class _HashingStream(io.RawIOBase):
    """A writable stream that hashes and counts what passes through it to `raw`."""

    def __init__(self, raw):
        self.raw = raw
        self.hash = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.hash.update(data)
        self.size += len(data)
        self.raw.write(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def close(self) -> None:
        if not self.closed:
            self.raw.close()
        super().close()


class PartWriter:
    """Writes one part, chunk by chunk as row groups; it appears under its name only on `close()`."""

    def __init__(self, folder: Folder, first_trial: int, schema: pa.Schema, chunk_size: int):
        if first_trial % BLOCK_SIZE:
            raise ValueError(f"a part starts a block, not at trial {first_trial}")
        self.folder = folder
        self.first_trial = first_trial
        self.rows = 0
        self.name = part_name(first_trial // BLOCK_SIZE)
        self.target = folder.file(self.name)
        self.temp = (folder.file(f".{self.name}.{uuid.uuid4().hex}.tmp") if folder.atomic_rename
                     else self.target)
        self._tables = TableBuilder(schema, chunk_size)
        self._stream = _HashingStream(folder.fs.open_output_stream(self.temp))
        try:
            self._writer = pq.ParquetWriter(self._stream, schema, **parquet_options(schema))
        except BaseException:
            self._discard()
            raise

    def write(self, start: int, drivers: dict[str, np.ndarray], metrics: np.ndarray) -> None:
        """Trials start..start+n-1 (the next ones of this part) as one row group."""
        if start != self.first_trial + self.rows:
            raise ValueError(f"part {self.name}: trial {start} written after {self.first_trial + self.rows - 1}")
        self._writer.write_table(self._tables.table(start, drivers, metrics))
        self.rows += metrics.shape[1]

    def close(self) -> PartInfo:
        """Finish the part: under its name, or staged for the run's commit (`Folder.stage`)."""
        self._writer.close()
        self._stream.close()
        if self.temp != self.target:
            stage = self.folder.stage
            self.folder.fs.move(self.temp, self.folder.file(staged_name(self.name, stage)) if stage else self.target)
        return PartInfo(self.name, self.first_trial, self.rows, self._stream.size, self._stream.hash.hexdigest())

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            self._discard()

    def _discard(self) -> None:
        self._stream.close()
        try:
            self.folder.fs.delete_file(self.temp)
        except (FileNotFoundError, OSError):
            pass


def prepare_folder(folder: Folder, force: bool, dry_run: bool = False) -> None:
    """Make the folder ready for a run: create it, or, with `force`, take one that holds an
    earlier dataset: a staged run (`Folder.stage`) leaves that dataset until its commit; an
    unstaged one (object stores) empties the folder now, the manifest first, so that nothing
    looks like a result meanwhile. A folder with files simengine did not write is refused
    rather than emptied. `dry_run` only checks."""
    names = folder.names()
    ours = [n for n in names if n == MANIFEST or PART_NAME.fullmatch(n) or TEMP_NAME.fullmatch(n)
            or STAGED_NAME.fullmatch(n) or n.startswith(f".{MANIFEST}.")]
    others = [n for n in names if n not in ours]
    if others:
        raise OutputExistsError(f"--out {folder.uri}: the folder holds files simengine did not write "
                                f"({', '.join(others[:3])}{', ...' if len(others) > 3 else ''}); "
                                "give an empty or new folder")
    if ours and not force:
        raise OutputExistsError(f"--out {folder.uri}: already holds a result dataset; use --force to overwrite it")
    if dry_run:
        return
    if folder.stage is not None:
        # the earlier dataset stays whole until this run commits (write_manifest); only what
        # stopped runs left goes now
        for name in ours:
            if TEMP_NAME.fullmatch(name) or STAGED_NAME.fullmatch(name):
                folder.delete(name)
    else:
        if MANIFEST in ours:
            folder.delete(MANIFEST)
        for name in ours:
            folder.delete(name)
    try:
        folder.fs.create_dir(folder.path, recursive=True)
    except OSError as exc:
        raise InputError(f"--out {folder.uri}: cannot create the folder ({exc})") from None


def discard_run(folder: Folder, created: bool) -> None:
    """After a run that failed or was stopped: remove its parts and temporary files (never an
    earlier dataset that a staged run left in place), and the folder itself if the run created
    it and it is empty now (best effort: a task still
    running on a cluster may write its part later; without a manifest it is no result)."""
    try:
        if folder.stage is not None:  # this run's staged and temporary parts; an earlier dataset stays
            for name in folder.names():
                staged = STAGED_NAME.fullmatch(name)
                if TEMP_NAME.fullmatch(name) or (staged and staged.group(1) == folder.stage):
                    folder.delete(name)
        else:
            remove_strays(folder, [])
        if created and not folder.names():
            folder.fs.delete_dir(folder.path)
    except Exception:  # noqa: BLE001 - cleaning up after a failure must not hide the failure
        pass


def remove_strays(folder: Folder, parts: list[PartInfo]) -> None:
    """Remove what killed or repeated tasks left: temporary parts, and parts the run does not list."""
    listed = {p.name for p in parts}
    for name in folder.names():
        if TEMP_NAME.fullmatch(name) or STAGED_NAME.fullmatch(name) or (PART_NAME.fullmatch(name)
                                                                        and name not in listed):
            folder.delete(name)


def write_manifest(folder: Folder, metadata: dict[str, str], parts: list[PartInfo], summary: dict) -> None:
    """Commit the run: staged parts renamed (`Folder.stage`), strays removed, then the manifest
    (parts in trial order) written last."""
    parts = sorted(parts, key=lambda p: p.first_trial)
    check_contiguous(folder.uri, parts, int(metadata["trials"]))
    if folder.stage is not None:
        # the earlier dataset (if any) ends here: its manifest first, then the staged parts take
        # their names (replacing its parts of the same names); its other parts go with the strays
        folder.delete(MANIFEST)
        for p in parts:
            folder.fs.move(folder.file(staged_name(p.name, folder.stage)), folder.file(p.name))
    remove_strays(folder, parts)
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "metadata": {f"{META_PREFIX}{k}": v for k, v in metadata.items()},
                "parts": [asdict(p) for p in parts], "summary": summary}
    folder.write_bytes(MANIFEST, (json.dumps(manifest, indent=1, allow_nan=False) + "\n").encode("utf-8"))


def check_contiguous(where: str, parts: list[PartInfo], trials: int) -> None:
    """Parts in trial order cover trials 0..trials-1 once each, or the dataset is not whole."""
    expected = 0
    for p in parts:
        if p.first_trial != expected:
            raise ResultFileError(f"{where}: its parts do not cover the trials in order (part {p.name} starts at "
                                  f"trial {p.first_trial:,}, expected {expected:,})")
        expected += p.rows
    if expected != trials:
        raise ResultFileError(f"{where}: its parts hold {expected:,} trials but the run has {trials:,}")


@dataclass(frozen=True)
class Manifest:
    """A committed dataset as its manifest describes it."""

    folder: Folder
    metadata: dict[str, str]  # prefix stripped, like a result file's
    parts: list[PartInfo]
    summary: dict

    def part_paths(self) -> list[str]:
        return [self.folder.file(p.name) for p in self.parts]


def read_manifest(out: str | Path) -> Manifest:
    """The manifest of the dataset at `out`, checked: its parts exist with the listed sizes
    and cover the run's trials in order (one line naming the problem otherwise)."""
    folder = Folder.of(out)
    where = folder.uri
    try:
        with folder.fs.open_input_stream(folder.file(MANIFEST)) as stream:
            text = stream.read().decode("utf-8")
    except FileNotFoundError:
        raise ResultFileError(f"{where}: no {MANIFEST}; not a finished simengine result (a run that did not "
                              "complete leaves none)") from None
    except OSError as exc:
        raise ResultFileError(f"{where}: cannot read {MANIFEST} ({exc})") from None
    try:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"format is {data.get('format')!r}, not {FORMAT!r}")
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format_version {data.get('format_version')!r}; this simengine reads {FORMAT_VERSION}")
        metadata = {k[len(META_PREFIX):]: str(v) for k, v in data["metadata"].items() if k.startswith(META_PREFIX)}
        parts = [PartInfo(str(p["name"]), int(p["first_trial"]), int(p["rows"]), int(p["bytes"]), str(p["sha256"]))
                 for p in data["parts"]]
        summary = data["summary"]
        trials = int(metadata["trials"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ResultFileError(f"{where}: {MANIFEST} is not a simengine manifest ({exc})") from None
    for p in parts:
        if not PART_NAME.fullmatch(p.name):
            raise ResultFileError(f"{where}: {MANIFEST} lists {p.name!r}, not a part name")
    check_contiguous(where, parts, trials)
    infos = folder.fs.get_file_info([folder.file(p.name) for p in parts])
    for p, info in zip(parts, infos):
        if info.type == pafs.FileType.NotFound:
            raise ResultFileError(f"{where}: part {p.name} is missing")
        if info.size != p.bytes:
            raise ResultFileError(f"{where}: part {p.name} has {info.size:,} bytes, the manifest says {p.bytes:,}; "
                                  "it was changed after simengine wrote it")
    return Manifest(folder, metadata, parts, summary)


def verify_parts(manifest: Manifest) -> None:
    """Check every part's sha256 against the manifest (reads every byte)."""
    for p in manifest.parts:
        digest = hashlib.sha256()
        with manifest.folder.fs.open_input_stream(manifest.folder.file(p.name)) as stream:
            while chunk := stream.read(1 << 24):
                digest.update(chunk)
        if digest.hexdigest() != p.sha256:
            raise ResultFileError(f"{manifest.folder.uri}: part {p.name} does not match its sha256 in {MANIFEST}; "
                                  "it was changed after simengine wrote it")


class DatasetWriter:
    """Writes a run's chunks (in trial order, any sizes) into parts of `part_trials` trials and
    commits the manifest: the local executor's counterpart of the cluster tasks' own parts."""

    def __init__(self, folder: Folder, schema: pa.Schema, chunk_size: int, part_trials: int = PART_BLOCKS * BLOCK_SIZE):
        if part_trials % BLOCK_SIZE:
            raise ValueError("parts hold whole blocks")
        self.folder, self.schema, self.chunk_size, self.part_trials = folder, schema, chunk_size, part_trials
        self.parts: list[PartInfo] = []
        self._part: PartWriter | None = None
        self._next = 0

    def write(self, start: int, drivers: dict[str, np.ndarray], metrics: np.ndarray) -> None:
        n = metrics.shape[1]
        done = 0
        while done < n:
            at = start + done
            if self._part is None:
                self._part = PartWriter(self.folder, at, self.schema, self.chunk_size)
            room = self._part.first_trial + self.part_trials - at
            take = min(room, n - done)
            self._part.write(at, {k: v[done:done + take] for k, v in drivers.items()}, metrics[:, done:done + take])
            done += take
            if take == room:
                self._close_part()

    def _close_part(self) -> None:
        part, self._part = self._part, None
        self.parts.append(part.close())

    def commit(self, metadata: dict[str, str], summary: dict) -> None:
        if self._part is not None:
            self._close_part()
        write_manifest(self.folder, metadata, self.parts, summary)

    def abort(self) -> None:
        """Remove this run's parts (there is no manifest, so none of them was a result): staged
        ones under their staged names, so that an earlier dataset's parts stay."""
        if self._part is not None:
            self._part.abort()
            self._part = None
        stage = self.folder.stage
        for p in self.parts:
            self.folder.delete(staged_name(p.name, stage) if stage else p.name)
