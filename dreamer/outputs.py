"""Where results go: checking ``-o`` before any work, naming each output, making its folder.

The one home of output naming for every writer (``dream``, the batch, zoom
and video, the probe, the atlas): ``result_file_name`` and ``safe_name``
build names, ``ensure_folder`` makes a folder or says in one line why it
can't, ``free_name`` / ``numbered`` find the ``_1``, ``_2``... name beside
a taken one. An input is never overwritten; an existing file only with
``overwrite``, otherwise a free name (``..._1.png``) is chosen, and the
Target says why (``renamed``), for the caller to report once the file is
written. Errors are DreamerErrors with one-line messages.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path, PurePath
from typing import Callable, Iterator, TypeVar

from dreamer.errors import DreamerError, ImageError
from dreamer.images import writable_format

DEFAULT_OUTPUT_DIR = Path("outputs")
#: How many numbered names ``free_name`` tries before giving up.
MAX_NUMBERED = 100_000
P = TypeVar("P", bound=PurePath)


@dataclass(frozen=True)
class Target:
    """One input and where its result goes (``output`` is set once named).

    ``renamed``: why ``output`` is not the name first wanted ("" if it is),
    e.g. ``outputs/a.png exists``.
    """

    input: Path
    folder: Path | None = None
    output: Path | None = None
    renamed: str = ""


def plan_outputs(inputs: list[Path], output_text: str | None) -> list[Target]:
    """Check ``-o`` against the inputs and prepare the output folder.

    One input and ``-o`` naming a file (not an existing folder, no trailing
    slash): that file. Otherwise ``-o`` (or ``outputs/``) is a folder,
    created if missing.

    Raises:
        DreamerError: the folder can't be made or written, or the file's
            extension is not an image format Pillow writes.
    """
    output = Path(output_text) if output_text else None
    if output is not None and len(inputs) == 1 and not is_folder_like(output_text):
        writable_format(output)
        ensure_folder(output.parent if str(output.parent) else Path("."))
        return [Target(inputs[0], output=output)]
    folder = output_folder(output_text)
    return [Target(path, folder=folder) for path in inputs]


def is_folder_output(inputs: list[str], output_text: str | None) -> bool:
    """Whether the results go into a folder (the resumable batch) rather than one named file.

    One named file is one input file (not a folder or pattern) with ``-o``
    naming a file; anything else is a folder: ``-o``'s, or ``outputs/``.
    """
    if len(inputs) != 1 or not output_text or is_folder_like(output_text):
        return True
    return is_folder_like(inputs[0]) or (glob.has_magic(inputs[0]) and not Path(inputs[0]).exists())


def output_folder(output_text: str | None) -> Path:
    """The batch's output folder (``-o``, or ``outputs/``), made if missing and checked writable.

    Raises:
        DreamerError: it is a file, or can't be made or written.
    """
    folder = DEFAULT_OUTPUT_DIR if not output_text else Path(output_text)
    if folder.exists() and not folder.is_dir():
        raise DreamerError(f"{folder}: several inputs need -o to be a folder, and this is a file")
    ensure_folder(folder)
    return folder


def name_outputs(targets: list[Target], model: str, objective: str, overwrite: bool) -> list[Target]:
    """Give every target its output path.

    An input is never overwritten; an existing file is replaced only with
    ``overwrite``, otherwise a free name is chosen and the reason kept in
    ``Target.renamed``. Two inputs of one batch never get the same name.
    """
    claimed: set[Path] = set()
    named = []
    for target in targets:
        wanted = target.output or target.folder / result_file_name(target.input.stem, model, objective)
        if target.output is not None and same_file(wanted, target.input):
            raise DreamerError(f"{wanted}: the output would overwrite the input; choose another -o")
        path, why = wanted, _why_taken(wanted, target.input, claimed, overwrite)
        if why:
            path = _free_name(wanted, target.input, claimed)
        claimed.add(path.resolve())
        named.append(replace(target, output=path, renamed=why))
    return named


def result_file_name(stem: str, model: str, objective: str) -> str:
    """The file name of an input's result: ``cat`` dreamed with ``m`` on ``o`` is ``cat_m_o.png``."""
    return f"{stem}_{safe_name(model)}_{safe_name(objective)}.png"


def safe_name(text: str) -> str:
    """A file-name-safe form of a model or layer label."""
    if os.sep in text or "/" in text or Path(text).suffix in (".keras", ".h5", ".pb"):
        text = Path(text).stem
    return re.sub(r"[^A-Za-z0-9._=+-]+", "-", text).strip("-") or "dream"


def is_folder_like(text: str) -> bool:
    """A folder, or meant as one: it exists as a folder or ends with a slash."""
    return Path(text).is_dir() or text.endswith((os.sep, "/"))


def ensure_folder(folder: Path) -> None:
    """Make ``folder`` (and its parents) if missing, and check that files can be written in it.

    Raises:
        ImageError: one line saying why not (a file in the way, no permission).
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImageError(f"{folder}: cannot create the output folder ({exc.strerror or exc})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ImageError(f"{folder}: the output folder is not writable")


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (the same path, or links to one file)."""
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def _why_taken(path: Path, source: Path, claimed: set[Path], overwrite: bool) -> str:
    """Why ``path`` can't be written ("" if it can)."""
    if path.resolve() in claimed:
        return f"{path} is taken by another input of this batch"
    if same_file(path, source):
        return f"{path} is the input"
    if path.exists() and not overwrite:
        return f"{path} exists; --overwrite replaces it"
    return ""


def numbered(path: P) -> Iterator[P]:
    """``a_1.png``, ``a_2.png``, ... beside ``a.png`` (a ``Path`` or a ``PurePosixPath``)."""
    for n in range(1, MAX_NUMBERED):
        yield path.with_name(f"{path.stem}_{n}{path.suffix}")


def free_name(path: P, taken: Callable[[P], bool] | None = None) -> P:
    """The first of ``path``, ``numbered(path)`` that is not ``taken`` (default: that exists on disk).

    Raises:
        DreamerError: every numbered name is taken.
    """
    taken = taken or (lambda candidate: Path(candidate).exists())
    if not taken(path):
        return path
    found = next((candidate for candidate in numbered(path) if not taken(candidate)), None)
    if found is None:
        raise DreamerError(f"{path}: no free output name left")
    return found


def _free_name(path: Path, source: Path, claimed: set[Path]) -> Path:
    return free_name(path, lambda candidate: bool(_why_taken(candidate, source, claimed, overwrite=False))
                     or candidate == path)
