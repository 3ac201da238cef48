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


@pytest.mark.parametrize("flags, gpus", [(ZEN4, ()), (SAPPHIRE_RAPIDS, ()), (SKYLAKE, ((8, 0),))])
def test_auto_keeps_depthwise_networks_in_float32(flags, gpus):
    assert resolve_precision("auto", flags, gpus, depthwise=True) == "float32"
    assert resolve_precision("bfloat16", flags, gpus, depthwise=True) == "bfloat16"


def test_depthwise_networks_are_recognised(tiny_model):
    import keras

    from dreamer.models.rewrite import has_depthwise_convolutions

    inputs = keras.Input((None, None, 3))
    separable = keras.Model(inputs, keras.layers.SeparableConv2D(4, 3)(inputs))
    outer = keras.Input((None, None, 3))
    nested = keras.Model(outer, separable(outer))
    assert not has_depthwise_convolutions(tiny_model)
    assert has_depthwise_convolutions(separable) and has_depthwise_convolutions(nested)


def test_unknown_precision_is_refused():
    with pytest.raises(DreamerError, match="unknown precision 'half'"):
        resolve_precision("half", ZEN4)


def test_cpu_flags_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: X\nflags\t\t: fpu avx2 avx512_bf16\n\nflags\t: other\n")
    assert cpu_flags(str(info)) == {"fpu", "avx2", "avx512_bf16"}
    assert cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_a_onednn_isa_cap_takes_flags_away():
    from dreamer.precision import capped_flags

    amx = {"sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}
    assert capped_flags(amx, "") == capped_flags(amx, "ALL") == capped_flags(amx, "avx512_core_amx") == amx
    assert capped_flags(amx, "AVX2") == capped_flags(amx, "avx2_vnni") == {"sse4_2", "avx", "avx2", "fma"}
    assert capped_flags(amx, "AVX512_CORE") == {"sse4_2", "avx", "avx2", "fma", "avx512f"}
    assert capped_flags(amx, "AVX512_CORE_BF16") == amx - {"amx_bf16", "amx_tile"}
    assert capped_flags(amx, "AVX") == {"sse4_2", "avx"}
    assert capped_flags(amx, "SSE41") == {"sse4_2"}
    assert resolve_precision("auto", capped_flags(amx, "AVX2")) == "float32"  # no bfloat16 kernels under the cap
