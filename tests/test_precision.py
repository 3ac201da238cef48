"""dreamer.precision: which arithmetic the hardware runs well."""

from __future__ import annotations

import pytest

from dreamer.errors import DreamerError
from dreamer.precision import cpu_flags, resolve_precision

ZEN4 = {"avx2", "avx512f", "avx512_bf16"}


SAPPHIRE_RAPIDS = {"avx512f", "amx_tile", "amx_bf16"}


SKYLAKE = {"avx2", "avx512f"}


@pytest.mark.parametrize(
    "requested, flags, gpus, expected",
    [
        ("auto", ZEN4, (), "bfloat16"),
        ("auto", SAPPHIRE_RAPIDS, (), "bfloat16"),
        ("auto", SKYLAKE, (), "float32"),
        ("auto", set(), (), "float32"),
        ("auto", SKYLAKE, ((8, 0),), "bfloat16"),  # the GPU runs the network
        ("auto", ZEN4, ((7, 5),), "float32"),
        ("auto", SKYLAKE, ((9, 0), (7, 0)), "float32"),
        ("float32", ZEN4, ((9, 0),), "float32"),
        ("bfloat16", SKYLAKE, (), "bfloat16"),
    ],
)
def test_precision_rule(requested, flags, gpus, expected):
    assert resolve_precision(requested, flags, gpus) == expected


def test_unknown_precision_is_refused():
    with pytest.raises(DreamerError, match="unknown precision 'half'"):
        resolve_precision("half", ZEN4)


def test_cpu_flags_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: X\nflags\t\t: fpu avx2 avx512_bf16\n\nflags\t: other\n")
    assert cpu_flags(str(info)) == {"fpu", "avx2", "avx512_bf16"}
    assert cpu_flags(str(tmp_path / "missing")) == frozenset()
