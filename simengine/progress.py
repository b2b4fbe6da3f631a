"""A progress line on stderr for long runs: trials done, trials per second, time left; and a
status line for the steps of a long job without trials (writing a report).

Shown only when stderr is a terminal, only after the run has taken `delay` seconds (short
runs stay quiet), and redrawn at most a few times a second. Never shown with --quiet.
"""

from __future__ import annotations

import sys
import time

from . import compile_notice


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_text(done: int, total: int, elapsed: float, width: int = 24) -> str:
    """`[#######.....]  41%  4,100,000/10,000,000 trials  2.1 M/s  ETA 0:03`."""
    share = done / total if total else 1.0
    filled = int(share * width)
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = (total - done) / rate if rate > 0 else 0.0
    speed = f"{rate / 1e6:.2f} M/s" if rate >= 1e5 else f"{rate:,.0f}/s"
    return (f"[{'#' * filled}{'.' * (width - filled)}] {share:4.0%}  {done:,}/{total:,} trials  "
            f"{speed}  ETA {format_seconds(eta)}")


class TerminalLine:
    """One line of stderr redrawn in place, on a terminal only; `close()` clears it. It never
    draws over an open compile notice (that line is closed first)."""

    def __init__(self, stream=None, enabled: bool | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.drawn = False

    def draw(self, text: str) -> None:
        compile_notice.finish()
        self.stream.write("\r" + text + "\033[K")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.drawn = False


class ProgressBar(TerminalLine):
    """Call with the number of trials done after each chunk; `close()` clears the line."""

    def __init__(self, total: int, stream=None, enabled: bool | None = None, delay: float = 2.0,
                 interval: float = 0.2):
        super().__init__(stream, enabled)
        self.total = total
        self.delay, self.interval = delay, interval
        self.started = time.perf_counter()
        self.last_draw = 0.0

    def __call__(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        elapsed = now - self.started
        if elapsed < self.delay or (now - self.last_draw < self.interval and done < self.total):
            return
        self.last_draw = now
        self.draw(progress_text(done, self.total, elapsed))


class StatusLine(TerminalLine):
    """`Writing the report (2 of 5): charts...`, redrawn at each step and cleared by `close()`:
    so that a job of many seconds without a trial count (a report's Sobol' runs, charts and
    rankings) shows what it is doing. The texts are ours, never a user's."""

    def __init__(self, what: str, stream=None, enabled: bool | None = None):
        super().__init__(stream, enabled)
        self.what = what

    def __call__(self, text: str, step: int | None = None, steps: int | None = None) -> None:
        """Step `step` of `steps` (or a step uncounted) has started; `text` says what it does."""
        if self.enabled:
            self.draw(f"{self.what} ({step} of {steps}): {text}..." if step is not None else f"{self.what}: {text}...")
