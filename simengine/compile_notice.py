"""A line on stderr when a command compiles the kernels (numba's disk cache is cold: the first run
after installing or upgrading, ~20 s on 2 cores), saying what is happening and how long it took.

numba signals a compile only when a kernel is not in its disk cache (jit.compile_hooks), so
later runs, which load the cached kernels, print nothing. The line is opened at the first
compile and closed (`finish`) before the command's next output, so it is never split.
"""

from __future__ import annotations

import contextlib
import sys

from . import jit

MESSAGE = "simengine: compiling the kernels for this machine (once, cached afterwards)..."


class CompileNotice:
    """Listens to jit.compile_hooks: hook(None) when a compile starts, hook(seconds) when it ends."""

    def __init__(self, stream):
        self.stream = stream
        self.seconds = 0.0
        self.state = "quiet"  # then "open" (the message is out), then "done"

    def __call__(self, seconds: float | None) -> None:
        if seconds is not None:
            self.seconds += seconds
        elif self.state == "quiet":
            self.state = "open"
            # on a terminal, a progress or status line may be drawn (progress.py): the notice replaces it
            self._write(("\r\033[K" if _is_terminal(self.stream) else "") + MESSAGE)

    def finish(self) -> None:
        """Close the line with the compile time, once, if it was opened."""
        if self.state == "open":
            self.state = "done"
            self._write(f" done in {self.seconds:.0f} s\n" if self.seconds >= 1.0 else
                        f" done in {self.seconds:.1f} s\n")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stderr must not fail the run
            pass


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


_current: CompileNotice | None = None


@contextlib.contextmanager
def watching(stream=None):
    """Show the notice for compiles within the block (on `stream`, default stderr); closed at its end."""
    global _current
    notice = CompileNotice(stream if stream is not None else sys.stderr)
    previous, _current = _current, notice
    jit.compile_hooks.append(notice)
    try:
        yield notice
    finally:
        jit.compile_hooks.remove(notice)
        _current = previous
        notice.finish()


def compiled_seconds() -> float:
    """Seconds spent compiling kernels so far in the watched block (0 when none compiled)."""
    return _current.seconds if _current is not None else 0.0


def took(seconds: float) -> str:
    """A command's time as its header shows it, with the part a first-time compile took in it:
    the first run after an install would otherwise look several times slower than the next."""
    compiling = compiled_seconds()
    if compiling < 0.5:
        return f"({seconds:.1f} s)"
    return f"({seconds:.1f} s, of which {compiling:.0f} s compiling the kernels, once)"


def finish() -> None:
    """Close the open notice line, if any: called before a command prints anything else."""
    if _current is not None:
        _current.finish()
