"""The name of each result under the output folder.

``trips/cat.jpg`` dreamed with model ``m`` on objective ``o`` becomes
``trips/cat_m_o.png``: the input's sub-folder, its stem, the model and the
objective. The name depends only on the input and those two labels, so the
same command names the same results on every run (which is what lets a run
resume). Inputs that would share a name (``cat.jpg`` and ``cat.png`` in one
folder) are numbered in input order: ``cat_m_o.png``, ``cat_m_o_1.png``; the
order of inputs is stable (arguments in order, folders sorted), so the
numbers are the same on every run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Iterator, Sequence

from dreamer.batch.inputs import Input


def result_names(inputs: Sequence[Input], model: str, objective: str) -> list[PurePosixPath]:
    """Each input's result path relative to the output folder, all different."""
    label = f"{safe_label(model)}_{safe_label(objective)}"
    plain = [item.relative.parent / f"{item.relative.stem}_{label}.png" for item in inputs]
    taken = set(plain)
    seen: set[PurePosixPath] = set()
    names = []
    for name in plain:
        if name in seen:
            name = next(c for c in _numbered(name) if c not in taken)
            taken.add(name)
        seen.add(name)
        names.append(name)
    return names


def safe_label(text: str) -> str:
    """A file-name-safe form of a model or objective label."""
    if os.sep in text or "/" in text or Path(text).suffix in (".keras", ".h5", ".pb"):
        text = Path(text).stem
    return re.sub(r"[^A-Za-z0-9._=+-]+", "-", text).strip("-") or "dream"


def _numbered(name: PurePosixPath) -> Iterator[PurePosixPath]:
    n = 1
    while True:
        yield name.with_name(f"{name.stem}_{n}{name.suffix}")
        n += 1
