"""Class names: those shipped with dreamer, and the user's own label files.

``dreamer/data/imagenet_classes.txt`` holds the 1000 ImageNet-1k class names,
one a line, in class-index order (the first lemma of each WordNet synset, with
the two "crane"s and two "maillot"s told apart).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from dreamer.errors import ModelError

IMAGENET_CLASS_COUNT = 1000


def load_imagenet_labels() -> list[str]:
    """The 1000 ImageNet-1k class names, index i being class i (281 is 'tabby')."""
    text = resources.files("dreamer").joinpath("data").joinpath("imagenet_classes.txt").read_text(encoding="utf-8")
    labels = text.splitlines()
    if len(labels) != IMAGENET_CLASS_COUNT:
        raise RuntimeError(f"imagenet_classes.txt has {len(labels)} lines, expected {IMAGENET_CLASS_COUNT}")
    return labels


def read_labels(path: Path) -> list[str]:
    """Class names from a text file, one a line (blank lines skipped).

    Raises:
        ModelError: the file can't be read as text.
    """
    try:
        names = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: cannot read the class names ({exc})") from None
    return [n.strip() for n in names if n.strip()]
