"""Keeps numba's disk cache of our kernels in step with the code they were compiled from.

numba checks a cached kernel against its own source file only (modification time and size).
A kernel also holds code from other files: its callees (the portfolio kernel compiles
`cashflows.trial` into itself) and the constants it reads from other modules. When one of those
files changes and the kernel's own file does not, numba keeps loading the old code: after a
`git pull` that changed the model in cashflows.py, a portfolio would still run the old model.

So every folder numba caches our kernels in holds a fingerprint (sha256) of every module a
kernel can take code from. When a kernel is made, before it can load anything from its folder,
`check` compares that folder's fingerprint with the sources': if they differ, it removes
numba's cache files there (each kernel then compiles once more) and records the new one. An
installed release never changes, so this costs one hash of the sources a process (milliseconds).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
#: The file, in each cache folder, naming the sources its cached kernels were compiled from.
FINGERPRINT_FILE = "simengine-kernels.fingerprint"
#: Text that marks a module making kernels (`@jit`, `@parallel_jit`, `jit(...)`); a module that
#: only mentions one is counted too, which can only make the check stricter.
KERNEL_MARKS = ("@jit", "@parallel_jit", "jit(")
#: `from .a.b import c, d` (or a parenthesized list over several lines) and `import a.b, c`.
FROM_IMPORT = re.compile(r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]*)", re.MULTILINE)
PLAIN_IMPORT = re.compile(r"^[ \t]*import[ \t]+([^\n#;]*)", re.MULTILINE)
IMPORTED_NAME = re.compile(r"[A-Za-z_][\w.]*")

_lock = threading.Lock()
_checked: set[str] = set()
#: (package, its stat_key, its fingerprint once computed): once per process
_sources: tuple[Path, str, str | None] | None = None


def kernel_sources(package: Path = PACKAGE) -> list[Path]:
    """Every module of `package` whose code a compiled kernel can hold: those that make kernels
    and, transitively, every module of the package they import."""
    texts = {path: path.read_text(encoding="utf-8") for path in sorted(package.rglob("*.py"))}
    todo = [path for path, text in texts.items() if any(mark in text for mark in KERNEL_MARKS)]
    found = set(todo)
    while todo:
        path = todo.pop()
        for imported in package_imports(path, texts[path], package):
            if imported in texts and imported not in found:
                found.add(imported)
                todo.append(imported)
    return sorted(found)


def package_imports(path: Path, text: str, package: Path) -> set[Path]:
    """The files of `package` that the module at `path` may import, at any depth of its code:
    for `from .a import b` both a.py (or a/__init__.py) and a/b.py, since b may be a module.
    Read with regular expressions, not parsed (parsing the sources took 0.2 s a process); a
    match inside a string only adds a file, which can only make the check stricter."""
    found: set[Path] = set()
    for dots, module, names in FROM_IMPORT.findall(text):
        if dots:
            base = path.parent
            for _ in range(len(dots) - 1):
                base = base.parent
            parts = module.split(".") if module else []
        elif module.split(".")[0] == package.name:
            base, parts = package, module.split(".")[1:]
        else:
            continue
        target = base.joinpath(*parts)
        found |= {target.with_suffix(".py"), target / "__init__.py"}
        found |= {target / f"{name}.py" for name in IMPORTED_NAME.findall(names)}
    for names in PLAIN_IMPORT.findall(text):
        for name in IMPORTED_NAME.findall(names):
            parts = name.split(".")
            if parts[0] == package.name and len(parts) > 1:
                target = package.joinpath(*parts[1:])
                found |= {target.with_suffix(".py"), target / "__init__.py"}
    return found


def fingerprint(package: Path = PACKAGE) -> str:
    """sha256 over the path and text of every module in `kernel_sources`."""
    digest = hashlib.sha256()
    for path in kernel_sources(package):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def stat_key(package: Path = PACKAGE) -> str:
    """A digest of every module's path, size and modification time: when it is the one recorded
    with a fingerprint, the sources are those of that fingerprint, and reading them is skipped."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        st = path.stat()
        digest.update(f"{path.relative_to(package).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def check(folder: str | os.PathLike | None) -> None:
    """Before the first kernel cached in `folder` loads: when the folder's recorded fingerprint
    is not the sources' (or there is none), remove numba's index (.nbi) and data (.nbc) files
    there and record the sources' fingerprint. Once per folder and process; a folder that
    cannot be read or written is left to numba (which then cannot cache there either)."""
    if folder is None:
        return
    with _lock:
        key = os.fspath(folder)
        if key in _checked:
            return
        _checked.add(key)
        try:
            refresh(Path(key))
        except OSError:
            pass


def refresh(folder: Path, package: Path = PACKAGE) -> bool:
    """Clear `folder`'s cached kernels unless its fingerprint is the sources' of `package`;
    True when it cleared. The fingerprint file holds the fingerprint and the `stat_key` it was
    last confirmed with."""
    global _sources
    marker = folder / FINGERPRINT_FILE
    try:
        recorded = marker.read_text(encoding="utf-8").split()
    except OSError:
        recorded = []  # no fingerprint yet: the cache predates this check, or the folder is new
    if _sources is None or _sources[0] != package:
        _sources = (package, stat_key(package), None)
    _, quick, full = _sources
    if recorded[1:2] == [quick]:
        return False
    if full is None:
        full = fingerprint(package)
        _sources = (package, quick, full)
    cleared = recorded[:1] != [full]
    if cleared:
        for entry in list(folder.glob("*.nbi")) + list(folder.glob("*.nbc")):
            entry.unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{FINGERPRINT_FILE}.{os.getpid()}.tmp"
    partial.write_text(f"{full}\n{quick}\n", encoding="utf-8")
    os.replace(partial, marker)
    return cleared
