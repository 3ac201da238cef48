"""Class names shipped with dreamer.

``dreamer/data/imagenet_classes.txt`` holds the 1000 ImageNet-1k class names,
one a line, in class-index order (the first lemma of each WordNet synset, with
the two "crane"s and two "maillot"s told apart).
"""

from __future__ import annotations

from importlib import resources

IMAGENET_CLASS_COUNT = 1000


def load_imagenet_labels() -> list[str]:
    """The 1000 ImageNet-1k class names, index i being class i (281 is 'tabby')."""
    text = resources.files("dreamer").joinpath("data").joinpath("imagenet_classes.txt").read_text(encoding="utf-8")
    labels = text.splitlines()
    if len(labels) != IMAGENET_CLASS_COUNT:
        raise RuntimeError(f"imagenet_classes.txt has {len(labels)} lines, expected {IMAGENET_CLASS_COUNT}")
    return labels
