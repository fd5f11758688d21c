"""How far a capture pass has read, for a progress bar, at no cost per frame.

Theory of operation. The engine keeps house before every 1024th frame of a capture, and that frame always
reaches it, in one process and in every flow-shard worker, whatever the C reader consumes
(``engine.HOUSEKEEPING_MASK``). An analyzer's ``progress_hook`` is called there; a ``Ticker`` as that hook
reads the reader's position (``CaptureSource.bytes_read``) every ``every`` calls and reports it. In one
process the report goes straight to the progress bar; a worker of ``parallel.py`` writes it to its slot
of an array shared with the parent (``SharedProgress``), which the parent reads while it waits for the
workers. Nothing is created or called when no one asked for progress (stderr is not a terminal).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tlsdoctor.capture import CaptureSource
    from tlsdoctor.engine import CaptureAnalyzer

Progress = Callable[[str, int, int], None]
"""progress(capture name, bytes read, total bytes): called now and then while a capture is read."""

TICKS_PER_REPORT = 16
"""A report every 16 housekeepings: every 16,384 frames (about 4 MB of the gateway mix)."""


class Ticker:
    """A ``CaptureAnalyzer.progress_hook``: every ``every``th call, ``report(read())``."""

    __slots__ = ("calls", "every", "read", "report")

    def __init__(self, read: Callable[[], int], report: Callable[[int], object],
                 every: int = TICKS_PER_REPORT) -> None:
        self.read = read
        self.report = report
        self.every = every
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        if self.calls % self.every == 0:
            self.report(self.read())


def follow(analyzer: CaptureAnalyzer, source: CaptureSource, report: Callable[[int], object]) -> Callable[[], None]:
    """Report to ``report`` how far ``source`` has been read, as ``analyzer`` reads it (a ``Ticker`` as its
    hook). Returns what reports the end: call it when the pass is done (the whole file, or where reading
    stopped when its size is unknown)."""
    analyzer.progress_hook = Ticker(lambda: source.bytes_read, report)

    def done() -> None:
        report(source.size or source.bytes_read)

    return done


def follow_capture(analyzer: CaptureAnalyzer, source: CaptureSource, name: str,
                   progress: Progress | None) -> Callable[[], None]:
    """``follow`` for ``progress(name, bytes read, total bytes)``; with no ``progress``, nothing is followed
    and what it returns does nothing."""
    if progress is None:
        return _nothing
    total = source.size or 0
    return follow(analyzer, source, lambda n: progress(name, n, total))


def _nothing() -> None:
    pass


class SharedProgress:
    """Bytes read by each task of a pool (a flow shard of a capture), in memory shared with forked
    workers: create it before the pool forks them. A worker writes its own slot (``writer``); the parent
    adds up a capture's slots (``read``)."""

    def __init__(self, tasks: int) -> None:
        import multiprocessing

        self.slots = multiprocessing.get_context("fork").RawArray("q", max(1, tasks))

    def writer(self, slot: int) -> Callable[[int], None]:
        slots = self.slots

        def write(done: int) -> None:
            slots[slot] = done

        return write

    def read(self, slots: Sequence[int]) -> int:
        return sum(self.slots[s] for s in slots)
