"""simengine.kernel_cache: numba's cached kernels are dropped when any source they hold changes.

numba checks a cached kernel against its own file only; a kernel that compiled in code from
another file (the portfolio kernel holds `cashflows.trial`) would keep the old code after that
file changed. These tests build small packages to check which files count and when a cache
folder is cleared, and run a real kernel against a cache folder whose fingerprint is stale.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from simengine import kernel_cache


def make_package(root: Path) -> Path:
    """pkg: a kernel module importing a helper (and, lazily, a constant), and a module no kernel uses."""
    pkg = root / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "jitting.py").write_text("def jit(f):\n    return f\n")
    (pkg / "kern.py").write_text("from .jitting import jit\nfrom .helper import (\n    step,\n)\n\n"
                                 "@jit\ndef kernel(x):\n    from .sub import constants\n    return step(x)\n")
    (pkg / "helper.py").write_text("import pkg.deep\n\ndef step(x):\n    return x + 1\n")
    (pkg / "deep.py").write_text("SCALE = 1\n")
    (pkg / "sub" / "constants.py").write_text("LIMIT = 3\n")
    (pkg / "cli.py").write_text("from .kern import kernel  # uses kernels, makes none\n")
    return pkg


def test_the_sources_are_the_kernel_modules_and_what_they_import_transitively(tmp_path):
    """kern.py makes a kernel; it imports helper (a parenthesized list over lines), jitting, and
    sub.constants inside the kernel; helper imports deep absolutely. cli.py only uses a kernel."""
    pkg = make_package(tmp_path)
    got = sorted(p.relative_to(pkg).as_posix() for p in kernel_cache.kernel_sources(pkg))
    assert got == ["deep.py", "helper.py", "jitting.py", "kern.py", "sub/__init__.py", "sub/constants.py"]


def test_the_fingerprint_moves_with_a_source_a_kernel_holds_and_not_with_other_modules(tmp_path):
    pkg = make_package(tmp_path)
    before = kernel_cache.fingerprint(pkg)
    (pkg / "cli.py").write_text("# a module no kernel imports\n")
    assert kernel_cache.fingerprint(pkg) == before
    (pkg / "deep.py").write_text("SCALE = 2\n")  # two imports away from the kernel
    assert kernel_cache.fingerprint(pkg) != before


def cached_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix in (".nbi", ".nbc"))


def test_a_cache_folder_is_cleared_only_when_its_fingerprint_is_not_the_sources(tmp_path, monkeypatch):
    pkg = make_package(tmp_path)
    monkeypatch.setattr(kernel_cache, "_sources", None)
    folder = tmp_path / "cache"
    folder.mkdir()
    old = ["kern.kernel-5.py311.nbi", "kern.kernel-5.py311.1.nbc"]
    for name in old:
        (folder / name).write_bytes(b"compiled from unknown sources")
    (folder / "notes.txt").write_text("not numba's")
    assert kernel_cache.refresh(folder, pkg) is True  # no fingerprint: the cache predates the check
    assert cached_files(folder) == [] and (folder / "notes.txt").exists()
    full, quick = (folder / kernel_cache.FINGERPRINT_FILE).read_text().split()
    assert full == kernel_cache.fingerprint(pkg) and quick == kernel_cache.stat_key(pkg)

    for name in old:  # compiled from these sources
        (folder / name).write_bytes(b"compiled")
    assert kernel_cache.refresh(folder, pkg) is False and cached_files(folder) == sorted(old)

    # touched but unchanged (a checkout that rewrites files): kept, the new stat key recorded
    os.utime(pkg / "helper.py", ns=(1, 1))
    monkeypatch.setattr(kernel_cache, "_sources", None)
    assert kernel_cache.refresh(folder, pkg) is False and cached_files(folder) == sorted(old)
    assert (folder / kernel_cache.FINGERPRINT_FILE).read_text().split() == [full, kernel_cache.stat_key(pkg)]

    (pkg / "helper.py").write_text("import pkg.deep\n\ndef step(x):\n    return x + 2\n")  # the model changed
    monkeypatch.setattr(kernel_cache, "_sources", None)
    assert kernel_cache.refresh(folder, pkg) is True and cached_files(folder) == []
    assert (folder / kernel_cache.FINGERPRINT_FILE).read_text().split()[0] == kernel_cache.fingerprint(pkg) != full


CHILD = """
import json, sys
import numpy as np
from simengine import jit
from simengine.kernels import powers
events = []
jit.compile_hooks.append(events.append)
values = powers.int_power(np.float64(1.5), 3)
print(json.dumps({"compiled": sum(e is None for e in events), "value": float(values)}))
"""


def test_a_stale_fingerprint_makes_the_kernels_compile_again(tmp_path):
    """With numba's cache in a fresh folder: the first run compiles, the second loads, and after
    the fingerprint is made stale (as if a source had changed) the next run compiles again."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}

    def child() -> dict:
        done = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
        return json.loads(done.stdout)

    assert child() == {"compiled": 1, "value": 3.375}
    (folder,) = {p.parent for p in (tmp_path / "numba").rglob("powers.int_power_python-*.nbi")}
    marker = folder / kernel_cache.FINGERPRINT_FILE
    assert marker.read_text().split()[0] == kernel_cache.fingerprint()
    assert child() == {"compiled": 0, "value": 3.375}
    marker.write_text("0" * 64 + "\n" + "0" * 64 + "\n")
    assert child() == {"compiled": 1, "value": 3.375}
    assert marker.read_text().split()[0] == kernel_cache.fingerprint()
