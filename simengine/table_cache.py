"""Disk cache of the quantile tables (kernels/quantile_table.py): building one PERT's tables takes
~20 ms of scipy's betaincinv (0.5 s for a scenario's 23 at every run), loading it ~0.3 ms.

A table is stored as one .npy of doubles, written to a temporary name and renamed, and read back
with np.load, so a loaded table is the built one bit for bit. The file name is a digest of what
the table depends on: the family and its parameters, this code, numpy's and scipy's versions and
the platform. Anything wrong with the cache (no folder, no permission, a damaged file) only
means the table is built as without one. The folder is $SIMENGINE_CACHE_DIR (an empty value
turns the cache off), else the user's cache folder; it keeps the MAX_TABLES newest tables.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

from .kernels import quantile_table
from .kernels.quantile_table import QuantileTable

CACHE_ENV = "SIMENGINE_CACHE_DIR"
#: Bump to orphan every stored table (old files are pruned as new ones come).
FORMAT = 1
#: About 0.4 MB a table: at most ~200 MB, the least recently used going first.
MAX_TABLES = 512
#: The QuantileTable attributes, in their order in the file (then zcoef, ucoef, and a crc32).
SCALARS = ("z0", "zh", "u0", "uh", "u1")
Z_CELLS, U_CELLS = quantile_table.Z_NODES - 1, quantile_table.U_NODES - 1
LENGTH = len(SCALARS) + 4 * Z_CELLS + 4 * U_CELLS + 1


def cache_dir() -> Path | None:
    """Where tables are kept: $SIMENGINE_CACHE_DIR, else the platform's user cache folder; None: off."""
    given = os.environ.get(CACHE_ENV)
    if given is not None:
        return Path(given).expanduser() if given.strip() else None
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "simengine" / "tables"


def table_key(family: str, params: tuple[float, ...], builder_file: str) -> str:
    """The digest naming a table: family, exact parameters, the code and versions that build it."""
    digest = hashlib.sha256(_build_digest(builder_file).encode())
    digest.update("\n".join([family, *(float(p).hex() for p in params)]).encode())
    return digest.hexdigest()[:32]


@functools.lru_cache(maxsize=None)
def _build_digest(builder_file: str) -> str:
    """What every table depends on besides its parameters: this format, the versions, the platform
    and the source of the table code and of the builder's module (any edit there: new tables)."""
    import platform

    import scipy

    from ._version import __version__

    parts = [f"format {FORMAT}", __version__, np.__version__, scipy.__version__, sys.platform, platform.machine()]
    digest = hashlib.sha256("\n".join(parts).encode())
    for source in (quantile_table.__file__, builder_file):
        digest.update(Path(source).read_bytes())
    return digest.hexdigest()


def cached_table(family: str, params: tuple[float, ...], build, builder_file: str) -> QuantileTable:
    """The table `build()` makes for `family` at `params`, from the cache when it holds it."""
    folder = cache_dir()
    if folder is None:
        return build()
    try:
        path = folder / f"{family}-{table_key(family, params, builder_file)}.npy"
    except OSError:
        return build()
    table = _load(path)
    if table is None:
        table = build()
        _store(path, table)
    return table


def _load(path: Path) -> QuantileTable | None:
    """The stored table, or None when there is none or it does not pass the length and crc checks."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if data.dtype != np.float64 or data.shape != (LENGTH,) or float(zlib.crc32(data[:-1].tobytes())) != data[-1]:
        return None
    try:
        os.utime(path)  # recently used: kept when the folder is pruned
    except OSError:
        pass
    table = QuantileTable.__new__(QuantileTable)
    for i, name in enumerate(SCALARS):
        setattr(table, name, float(data[i]))
    z_end = len(SCALARS) + 4 * Z_CELLS
    table.zcoef = data[len(SCALARS):z_end].copy()
    table.ucoef = data[z_end:-1].copy()
    return table


def _store(path: Path, table: QuantileTable) -> None:
    """Write the table under a temporary name and rename it; any failure leaves the cache as it was."""
    body = np.concatenate([[getattr(table, name) for name in SCALARS], table.zcoef, table.ucoef])
    if body.shape != (LENGTH - 1,):
        return
    data = np.append(body, float(zlib.crc32(body.tobytes())))
    temp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", suffix=".npy", delete=False) as f:
            temp = f.name
            np.save(f, data, allow_pickle=False)
        os.replace(temp, path)
        temp = None
        _prune(path.parent)
    except OSError:
        pass
    finally:
        if temp is not None:
            try:
                os.unlink(temp)
            except OSError:
                pass


def _prune(folder: Path) -> None:
    """Keep the MAX_TABLES most recently used tables."""
    files = list(folder.glob("*.npy"))
    if len(files) <= MAX_TABLES:
        return
    for old in sorted(files, key=_last_used)[:len(files) - MAX_TABLES]:
        try:
            old.unlink()
        except OSError:
            pass


def _last_used(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
