"""Read a PyTorch state dict into numpy arrays, without PyTorch and without running code.

Contract:

- ``load_state_dict(path)`` returns ``{parameter name: numpy array}`` for a file
  written by ``torch.save(model.state_dict(), path)``, in either the legacy
  format (PyTorch < 1.6: five pickles in a row, then the raw storages) or the
  zip format (PyTorch >= 1.6: ``<archive>/data.pkl`` plus ``<archive>/data/<key>``).
- The pickles are read by an unpickler that knows only the handful of globals a
  state dict needs (``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2``
  and friends, the ``torch.*Storage`` types), each mapped to a local stand-in.
  Any other global (``os.system``, ``builtins.eval``...) raises
  ``UnsafeFileError`` before anything is imported or called, and a file cannot
  change the stand-ins (the pickle BUILD opcode is refused on them).
- A truncated or corrupt file raises ``ModelError`` with a one-line message that
  names the file.

Arrays come back in native byte order, C-contiguous, with PyTorch's layout
(convolution kernels stay OIHW); converting them for Keras is the adapter's job.
"""

from __future__ import annotations

import collections
import io
import math
import os
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable

import numpy as np

from dreamer.errors import ModelError, UnsafeFileError, first_line

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# Errors that unpickling or decoding damaged bytes can raise.
_CORRUPTION_ERRORS = (
    pickle.UnpicklingError,
    MemoryError,  # a damaged length field can ask pickle for an absurd allocation
    EOFError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,
    struct.error,
    zipfile.BadZipFile,
)


class Sealed:
    """Base of every object a pickle can reach here: the BUILD opcode, which
    sets state on an object, is refused, so a file cannot change the shared
    stand-ins and poison later loads."""

    def __setstate__(self, state):
        raise pickle.UnpicklingError(f"the file tries to modify {type(self).__name__}")


@dataclass(frozen=True)
class StorageType(Sealed):
    """Stand-in for ``torch.FloatStorage`` and friends: the element type of a storage."""

    name: str
    dtype: str  # little-endian numpy type code of one stored element
    bfloat16: bool = False


STORAGE_TYPES = {
    t.name: t
    for t in (
        StorageType("DoubleStorage", "<f8"),
        StorageType("FloatStorage", "<f4"),
        StorageType("HalfStorage", "<f2"),
        StorageType("BFloat16Storage", "<u2", bfloat16=True),
        StorageType("LongStorage", "<i8"),
        StorageType("IntStorage", "<i4"),
        StorageType("ShortStorage", "<i2"),
        StorageType("CharStorage", "<i1"),
        StorageType("ByteStorage", "<u1"),
        StorageType("BoolStorage", "<u1"),
    )
}


@dataclass(frozen=True)
class StorageRef(Sealed):
    """A storage named in the pickle; its bytes are read after the pickle."""

    key: str
    type: StorageType
    numel: int
    view: tuple | None = None  # (root key, element offset, element count), legacy only


@dataclass(frozen=True)
class TensorRef(Sealed):
    """A tensor named in the pickle: a strided window on a storage."""

    storage: StorageRef
    offset: int
    size: tuple
    stride: tuple


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored) -> TensorRef:
    """Stand-in for ``torch._utils._rebuild_tensor(_v2)``: remember, build later."""
    if not isinstance(storage, StorageRef):
        raise TypeError("tensor without a storage")
    return TensorRef(storage, int(storage_offset), tuple(map(int, size)), tuple(map(int, stride)))


def _rebuild_parameter(data, *_ignored):
    """Stand-in for ``torch._utils._rebuild_parameter``: a parameter is its tensor."""
    return data


@dataclass(frozen=True)
class StandIn(Sealed):
    """A callable allowed global (a plain function's attributes could be set by BUILD)."""

    function: Callable

    def __call__(self, *args):
        return self.function(*args)


ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): StandIn(_rebuild_tensor),
    ("torch._utils", "_rebuild_tensor_v2"): StandIn(_rebuild_tensor),
    ("torch._utils", "_rebuild_parameter"): StandIn(_rebuild_parameter),
    **{("torch", name): t for name, t in STORAGE_TYPES.items()},
}


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that resolves only ``ALLOWED_GLOBALS`` and records storages.

    Args:
        file: the binary stream positioned at a pickle.
        source: the file's name, for error messages.
        storages: filled with every storage the pickle refers to, by key.
    """

    def __init__(self, file: BinaryIO, source: str, storages: dict[str, StorageRef]):
        super().__init__(file)
        self.source = source
        self.storages = storages

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafeFileError(
                f"refusing to load {self.source}: it names the global {first_line(f'{module}.{name}', 120)}, "
                "which could run code; only PyTorch tensor data is allowed"
            ) from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r:.60}")
        _, storage_type, key, _location, numel, *rest = pid
        if not isinstance(storage_type, StorageType):
            raise pickle.UnpicklingError(f"unknown storage type {storage_type!r:.60}")
        key = str(key)
        root = StorageRef(key, storage_type, int(numel))
        self.storages.setdefault(key, root)
        view = rest[0] if rest else None
        if view is None:
            return root
        view_key, view_offset, view_size = view
        return StorageRef(str(view_key), storage_type, int(view_size), (key, int(view_offset), int(view_size)))


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a PyTorch state dict file without running any code from it.

    Args:
        path: a ``.pth``/``.pt`` file written by ``torch.save`` (legacy or zip format).

    Returns:
        Parameter and buffer names mapped to numpy arrays (float32 stays
        float32, ``num_batches_tracked`` is a 0-d int64 array). A checkpoint
        that wraps the weights in ``{"state_dict": ...}`` is unwrapped.

    Raises:
        UnsafeFileError: the file names a global outside the allowed few.
        ModelError: the file is missing, truncated, corrupt or not a state dict.
    """
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            obj = _load_zip(path)
        else:
            obj = _load_legacy(path.read_bytes(), str(path))
    except ModelError:
        raise
    except OSError as e:
        raise ModelError(f"cannot read weights file {path}: {e.strerror or e}") from e
    except _CORRUPTION_ERRORS as e:
        raise ModelError(f"weights file {path} is truncated or corrupt ({first_line(e, 120)})") from e
    return _state_dict_of(obj, path)


def _load_legacy(data: bytes, source: str):
    """The legacy format: magic, protocol, sys info, the object, storage keys, storages.

    The whole file is in memory, so a damaged length field can only ask for
    bytes that are there.
    """
    stream = io.BytesIO(data)
    storages: dict[str, StorageRef] = {}

    def next_pickle():
        return SafeUnpickler(stream, source, storages).load()

    if next_pickle() != LEGACY_MAGIC:
        raise ModelError(f"{source} is not a PyTorch weights file (wrong magic number)")
    protocol = next_pickle()
    if protocol != LEGACY_PROTOCOL:
        raise ModelError(f"{source}: unsupported PyTorch file protocol {protocol!r:.40}")
    sys_info = next_pickle()
    byteorder = "<" if not isinstance(sys_info, dict) or sys_info.get("little_endian", True) else ">"
    obj = next_pickle()
    keys = next_pickle()
    if not isinstance(keys, list):
        raise pickle.UnpicklingError("storage key list missing")
    arrays = {}
    position = stream.tell()
    for key in map(str, keys):
        if key not in storages:
            raise pickle.UnpicklingError(f"storage {key!r:.40} is stored but never used")
        arrays[key], position = _legacy_storage(data, position, storages[key], byteorder)
    return _materialise(obj, lambda ref: _storage_array(ref, arrays))


def _legacy_storage(data: bytes, position: int, ref: StorageRef, byteorder: str) -> tuple[np.ndarray, int]:
    """One legacy storage at ``position``: an int64 element count, then the raw
    elements. Returns the elements (a view on ``data``) and the next position."""
    (count,) = struct.unpack_from(byteorder + "q", data, position)
    dtype = np.dtype(ref.type.dtype).newbyteorder(byteorder)
    start = position + 8
    end = start + count * dtype.itemsize
    if count != ref.numel:
        raise ValueError(f"storage {ref.key} has {count} elements, its tensors expect {ref.numel}")
    if end > len(data):
        raise EOFError(f"the file ends {end - len(data)} bytes before the end of storage {ref.key}")
    return np.frombuffer(data, dtype=dtype, count=count, offset=start), end


def _load_zip(path: Path):
    """The zip format: ``<prefix>data.pkl`` and one ``<prefix>data/<key>`` per storage."""
    with zipfile.ZipFile(path) as zf:
        pickles = [n for n in zf.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise ModelError(f"{path} is a zip file but not a PyTorch weights file (no data.pkl)")
        prefix = pickles[0][: -len("data.pkl")]
        storages: dict[str, StorageRef] = {}
        obj = SafeUnpickler(io.BytesIO(zf.read(pickles[0])), str(path), storages).load()
        byteorder = "<"
        if prefix + "byteorder" in zf.namelist():
            byteorder = "<" if zf.read(prefix + "byteorder").strip() == b"little" else ">"
        data = {}
        for key, ref in storages.items():
            dtype = np.dtype(ref.type.dtype).newbyteorder(byteorder)
            raw = zf.read(f"{prefix}data/{key}")
            data[key] = np.frombuffer(raw, dtype=dtype, count=len(raw) // dtype.itemsize)
    return _materialise(obj, lambda ref: _storage_array(ref, data))


def _storage_array(ref: StorageRef, data: dict[str, np.ndarray]) -> np.ndarray:
    """The elements of a storage (or of a legacy storage view)."""
    if ref.view is None:
        return data[ref.key]
    root_key, offset, size = ref.view
    root = data[root_key]
    if offset < 0 or offset + size > root.size:
        raise ValueError(f"storage view {ref.key} lies outside storage {root_key}")
    return root[offset : offset + size]


def _materialise(obj, storage_of: Callable[[StorageRef], np.ndarray]):
    """``obj`` with every TensorRef replaced by its numpy array."""
    if isinstance(obj, TensorRef):
        return tensor_array(storage_of(obj.storage), obj)
    if isinstance(obj, dict):
        return {k: _materialise(v, storage_of) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialise(v, storage_of) for v in obj)
    return obj


def tensor_array(storage: np.ndarray, ref: TensorRef) -> np.ndarray:
    """A C-contiguous native-order copy of the strided window ``ref`` on ``storage``.

    Raises:
        ValueError: the window reaches outside the storage, or has more elements
            than the storage (broadcast views are not expected in a state dict,
            and refusing them bounds the memory a damaged file can ask for).
    """
    dtype = storage.dtype.newbyteorder("=")
    if any(n == 0 for n in ref.size):
        return np.zeros(ref.size, dtype=dtype)
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride))
    if ref.offset < 0 or min(ref.stride, default=0) < 0 or last >= storage.size or math.prod(ref.size) > storage.size:
        raise ValueError(f"tensor reaches outside its storage {ref.storage.key}")
    window = np.lib.stride_tricks.as_strided(
        storage[ref.offset :],
        shape=ref.size,
        strides=tuple(s * storage.itemsize for s in ref.stride),
        writeable=False,
    )
    array = np.array(window, dtype=dtype, order="C")
    if ref.storage.type.bfloat16:
        array = (array.astype(np.uint32) << 16).view(np.float32)
    elif ref.storage.type.name == "BoolStorage":
        array = array.astype(bool)
    return array


def _state_dict_of(obj, path: Path) -> dict[str, np.ndarray]:
    """The ``{name: array}`` part of what the file held."""
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ModelError(f"{path} holds a {type(obj).__name__}, not a state dict")
    arrays = {str(k): v for k, v in obj.items() if isinstance(v, np.ndarray)}
    if not arrays:
        raise ModelError(f"{path} holds no tensors")
    return arrays
