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

from pathlib import PurePosixPath
from typing import Sequence

from dreamer.batch.inputs import Input
from dreamer.outputs import numbered, result_file_name


def result_names(inputs: Sequence[Input], model: str, objective: str) -> list[PurePosixPath]:
    """Each input's result path relative to the output folder, all different."""
    plain = [item.relative.parent / result_file_name(item.relative.stem, model, objective) for item in inputs]
    taken = set(plain)
    seen: set[PurePosixPath] = set()
    names = []
    for name in plain:
        if name in seen:
            name = next(c for c in numbered(name) if c not in taken)
            taken.add(name)
        seen.add(name)
        names.append(name)
    return names
