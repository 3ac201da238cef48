"""Errors a user can cause. The CLI prints them as one line and exits non-zero."""


class DreamerError(Exception):
    """A mistake or a problem the user can fix; its message is one line."""


class ImageError(DreamerError):
    """An input image that cannot be read, or an output that cannot be written."""


class ModelError(DreamerError):
    """A model that cannot be found, loaded or used as asked."""


class UnsafeFileError(ModelError):
    """A weights or model file that would need to run code to load."""


def first_line(error: BaseException | str, limit: int | None = None) -> str:
    """The first line of an error's message (or of a text), whitespace collapsed, for one-line messages.

    With ``limit``, a longer line is cut to ``limit`` characters ending in "...".
    """
    lines = str(error).strip().splitlines()
    text = " ".join(lines[0].split()) if lines else type(error).__name__
    return text if limit is None or len(text) <= limit else text[:limit - 3] + "..."
