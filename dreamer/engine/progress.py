"""What the engine reports while it works: a step done, or a note for the user.

The engine prints nothing; whoever calls it passes a ``ProgressCallback``
(the CLI turns it into a progress bar).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Progress:
    """A step done (``loss`` is the objective's value), or a note (``message``) for the user."""

    octave: int
    octaves: int
    step: int
    steps: int
    shape: tuple[int, int]
    loss: float | None = None
    message: str | None = None


ProgressCallback = Callable[[Progress], None]
