"""Errors a user can cause. The CLI prints them as one line and exits non-zero."""


class DreamerError(Exception):
    """A mistake or a problem the user can fix; its message is one line."""


class ImageError(DreamerError):
    """An input image that cannot be read, or an output that cannot be written."""


class ModelError(DreamerError):
    """A model that cannot be found, loaded or used as asked."""


class UnsafeFileError(ModelError):
    """A weights or model file that would need to run code to load."""
