"""The progress bar of the verbs that read captures (``diagnose``, ``connections``): one line per capture on
stderr, drawn by rich while it reads and gone when it is done; nothing at all when stderr is not a
terminal (a pipe, a file, CI), so output and logs stay clean."""

from __future__ import annotations

from tlsdoctor.progress import Progress


class ProgressBar:
    """A rich progress bar on stderr while captures are read (a no-op when stderr is not a terminal)."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: object = None
        self._tasks: dict[str, object] = {}

    def __enter__(self) -> Progress | None:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        bar = RichProgress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                           TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        bar.start()
        self._bar = bar

        def update(name: str, done: int, total: int) -> None:
            task = self._tasks.get(name)
            if task is None:
                task = bar.add_task(name, total=total or None)
                self._tasks[name] = task
            bar.update(task, completed=done)  # type: ignore[arg-type]

        return update

    def close(self) -> None:
        """Clear the bar from the terminal; what is reported after that is not drawn."""
        if self._bar is not None:
            self._bar.stop()  # type: ignore[attr-defined]
            self._bar = None

    def __exit__(self, *exc: object) -> None:
        self.close()
