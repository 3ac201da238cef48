"""Which files a batch renders, and where each result goes.

Inputs are files, folders (their images; ``recursive`` descends into
sub-folders) and glob patterns (``photos/*.jpg``, ``photos/**/*.png``). A file
named directly is always an input (if it is not an image, rendering it
reports why); a file found in a folder or by a pattern is an input only if
its content is an image Pillow reads (the header is sniffed; the extension
does not matter), and the others are counted as skipped. Hidden files and
folders (a leading dot) and the output folder itself are never searched.

Each input keeps its path relative to the folder (or the pattern's fixed
part) it was found in, so the results mirror the input's sub-folders.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator

from dreamer.errors import DreamerError


@dataclass(frozen=True)
class Input:
    """One file to render.

    Attributes:
        path: the file, as the user's arguments lead to it.
        relative: its place under the output folder (POSIX form, with the
            input's own file name).
    """

    path: Path
    relative: PurePosixPath


@dataclass(frozen=True)
class Discovery:
    """The inputs found, how many files were passed over as not images, and folders without any."""

    inputs: tuple[Input, ...]
    skipped: int = 0
    skipped_examples: tuple[str, ...] = ()
    empty_folders: tuple[str, ...] = ()


def find_inputs(specs: Iterable[str], recursive: bool = False, exclude: Path | None = None) -> Discovery:
    """Every input the arguments name, in a stable order, each file once.

    Args:
        specs: files, folders and glob patterns as typed.
        recursive: descend into sub-folders of a named folder (a ``**``
            pattern descends by itself).
        exclude: a folder never searched (the output folder).

    Raises:
        DreamerError: an argument names nothing (no such file, folder or
            matching file).
    """
    found: dict[Path, Input] = {}
    skipped: list[str] = []
    empty: list[str] = []
    for spec in specs:
        before = len(found)
        for candidate, sniff in _expand(spec, recursive, exclude):
            key = candidate.path.resolve()
            if key in found:
                continue
            if sniff and not is_image(candidate.path):
                skipped.append(str(candidate.path))
                continue
            found[key] = candidate
        if len(found) == before and Path(spec).is_dir():
            empty.append(spec)
    return Discovery(tuple(found.values()), len(skipped), tuple(skipped[:3]), tuple(empty))


def is_image(path: Path) -> bool:
    """Whether the file's content is an image format Pillow reads (only its header is read)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path):
            return True
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        return False


def _expand(spec: str, recursive: bool, exclude: Path | None) -> Iterator[tuple[Input, bool]]:
    """(input, whether to sniff it) for one argument."""
    path = Path(spec)
    if path.is_dir():
        yield from ((item, True) for item in _walk(path, recursive, exclude))
    elif path.exists() or not glob.has_magic(spec):
        yield Input(path, PurePosixPath(path.name)), False
    else:
        matches = sorted(glob.glob(spec, recursive=True))
        if not matches:
            raise DreamerError(f"{spec}: no file matches this pattern")
        root = _fixed_part(spec)
        for match in matches:
            match_path = Path(match)
            if match_path.is_file() and not _hidden(match_path.relative_to(root)) and not _inside(match_path, exclude):
                yield Input(match_path, _relative(match_path, root)), True


def _walk(folder: Path, recursive: bool, exclude: Path | None) -> Iterator[Input]:
    """The visible files of a folder (and its visible sub-folders), sorted."""
    for current, dirs, files in os.walk(folder):
        current_path = Path(current)
        dirs[:] = sorted(d for d in dirs if recursive and not d.startswith(".")
                         and not _inside(current_path / d, exclude))
        for name in sorted(files):
            if not name.startswith("."):
                yield Input(current_path / name, _relative(current_path / name, folder))


def _fixed_part(pattern: str) -> Path:
    """The folder a glob pattern starts from: its leading parts without wildcards."""
    parts = []
    for part in Path(pattern).parts[:-1]:
        if glob.has_magic(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def _relative(path: Path, root: Path) -> PurePosixPath:
    return PurePosixPath(*path.relative_to(root).parts)


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _inside(path: Path, folder: Path | None) -> bool:
    if folder is None:
        return False
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True
