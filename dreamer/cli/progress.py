"""Progress bars on stderr: the engine's Progress events and download bytes become click bars.

A bar opens at its first update (so a quiet or instant job shows nothing)
and closes with its ``with`` block.
"""

from __future__ import annotations

import sys

import click


class LazyBar:
    """A click progress bar on stderr, opened at its first update and closed with the ``with`` block."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)
        return False

    def advance(self, steps: int, item=None, **options) -> None:
        """Move on by ``steps`` (showing ``item``); ``options`` go to click.progressbar when it opens."""
        if self._bar is None:
            self._bar = click.progressbar(file=sys.stderr, **options)
            self._bar.__enter__()
        self._bar.update(steps, item)


class DownloadBar(LazyBar):
    """A progress bar for a download, fed ``update(done, total)``; silent when quiet."""

    def __init__(self, quiet: bool, label: str = "downloading weights"):
        super().__init__(quiet)
        self.label = label
        self._done = 0

    def update(self, done: int, total: int | None) -> None:
        if self.quiet:
            return
        self.advance(done - self._done, length=total, label=self.label, show_percent=total is not None,
                      show_pos=False)
        self._done = done


class StepBar(LazyBar):
    """A progress bar fed by the engine's Progress events; notes print as lines.

    When stderr is not a terminal there is no bar (the ``wrote ...`` line that follows says enough).
    """

    def __init__(self, label: str, quiet: bool):
        super().__init__(quiet)
        self.label = label
        self._where = ""

    def update(self, event) -> None:
        if self.quiet:
            return
        if event.message:
            click.echo(f"{self.label}: {event.message}", err=True)
            return
        if not sys.stderr.isatty():  # piped: click would print the label (the input's name) alone on a line
            return
        self._where = f"octave {event.octave + 1}/{event.octaves} {event.shape[1]}x{event.shape[0]}"
        self.advance(1, length=event.octaves * event.steps, label=self.label, show_pos=True,
                      item_show_func=lambda _: self._where)
