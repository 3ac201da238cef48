"""Loading the user's own saved Keras models, safely by default.

``.keras`` files load with Keras' safe mode on, so a file that would need to
run arbitrary code (a Lambda layer, say) is refused unless the caller passes
``unsafe=True``. Legacy ``.h5`` models and SavedModel folders are loaded too.
"""

from __future__ import annotations

from pathlib import Path

from dreamer.errors import ModelError, UnsafeFileError


def load_keras_file(path: Path, unsafe: bool = False):
    """Load a ``.keras``, ``.h5`` or SavedModel folder as a Keras model.

    Raises:
        UnsafeFileError: the file needs code execution and ``unsafe`` is off.
        ModelError: the file is missing, corrupt or not a model.
    """
    import keras

    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if path.is_dir():
            return _load_saved_model(path)
        if suffix in (".keras", ".h5", ".hdf5"):
            return keras.saving.load_model(path, compile=False, safe_mode=not unsafe)
    except ValueError as exc:
        text = str(exc)
        if "safe_mode" in text or "Lambda" in text or "lambda" in text:
            raise UnsafeFileError(
                f"{path}: loading this model would run code stored in the file (e.g. a Lambda "
                "layer); if you trust it, pass --unsafe-load"
            ) from None
        raise ModelError(f"{path}: cannot load model ({_first_line(exc)})") from None
    except (OSError, TypeError, KeyError, AttributeError) as exc:
        raise ModelError(f"{path}: cannot load model ({_first_line(exc)})") from None
    raise ModelError(f"{path}: not a model file (expected .keras, .h5 or a SavedModel folder)")


def _load_saved_model(path: Path):
    if not (path / "saved_model.pb").exists():
        raise ModelError(f"{path}: folder is not a SavedModel (no saved_model.pb)")
    raise ModelError(
        f"{path}: SavedModel folders are not supported yet; "
        "save the model with model.save('model.keras') instead"
    )


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
