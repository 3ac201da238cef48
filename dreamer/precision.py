"""Which arithmetic the network runs in: float32, or bfloat16 where it is fast.

``resolve_precision`` is the pure rule; ``detect_precision`` feeds it what
this machine has. ``auto`` chooses bfloat16 only when both hold:

- the hardware has native bfloat16 arithmetic: x86 CPUs with AVX512-BF16 or
  AMX-BF16, and GPUs of compute capability 8.0 (Ampere) or newer. Elsewhere
  bfloat16 would be emulated and slower than float32.
- the network has no depthwise convolutions. Their bfloat16 gradients are
  slow on CPUs, so the rewrite keeps them in float32, and the casts around
  them eat what the other layers gain. Measured on a 2-core AVX512-BF16 CPU
  (512 px step, CPU seconds, float32 / bfloat16): EfficientNet-Lite0 1.06x,
  MobileNetV2 1.05x, EfficientNetB0 0.88x (slower), against InceptionV3
  1.8x; a whole Lite0 dream gained nothing, and on an AMX Xeon bfloat16 made
  it 13-16% slower. So a depthwise network runs in float32 under ``auto``
  (``--precision bfloat16`` still asks for it).

Only the network's layers run in bfloat16; the image, the gradient's
normalisation and the update stay in float32 (see ``dreamer.models.rewrite``).
"""

from __future__ import annotations

from typing import Iterable, Sequence

from dreamer.errors import DreamerError

PRECISIONS = ("auto", "float32", "bfloat16")
#: /proc/cpuinfo flags of x86 CPUs with native bfloat16 dot products.
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
#: The oldest CUDA compute capability with bfloat16 tensor cores (Ampere).
BF16_MIN_COMPUTE_CAPABILITY = (8, 0)


def resolve_precision(
    requested: str,
    cpu_flags: Iterable[str],
    gpu_capabilities: Sequence[tuple[int, int]] = (),
    depthwise: bool = False,
) -> str:
    """``float32`` or ``bfloat16`` for a requested precision on given hardware and network.

    Args:
        requested: ``auto``, ``float32`` or ``bfloat16``.
        cpu_flags: the CPU's feature flags (as in /proc/cpuinfo).
        gpu_capabilities: the compute capability of each visible GPU; when
            there is one, the network runs there and the CPU does not matter.
        depthwise: the network has depthwise convolutions (``auto`` keeps
            it in float32; see the module docstring).

    Raises:
        DreamerError: an unknown precision name.
    """
    if requested not in PRECISIONS:
        raise DreamerError(f"unknown precision {requested!r}; choose one of {', '.join(PRECISIONS)}")
    if requested != "auto":
        return requested
    if depthwise:
        return "float32"
    if gpu_capabilities:
        fast = all(tuple(cc) >= BF16_MIN_COMPUTE_CAPABILITY for cc in gpu_capabilities)
    else:
        fast = bool(BF16_CPU_FLAGS & set(cpu_flags))
    return "bfloat16" if fast else "float32"


def cpu_flags(cpuinfo_path: str = "/proc/cpuinfo") -> frozenset[str]:
    """The first CPU's feature flags; empty where /proc/cpuinfo is missing (not Linux)."""
    try:
        with open(cpuinfo_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


#: oneDNN's ``ONEDNN_MAX_CPU_ISA`` caps (prefixes) -> the CPU flags they take away.
_ISA_CAPS = (  # the first matching prefix wins, so longer names come first
    (("SSE41",), ("avx", "fma", "avx512", "amx")),
    (("AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX10_1_512"), ("amx",)),
    (("AVX512_CORE",), ("avx512_bf16", "amx")),
    (("AVX2",), ("avx512", "amx")),
    (("AVX",), ("avx2", "fma", "avx512", "amx")),
)


def capped_flags(flags: Iterable[str], max_isa: str = "") -> frozenset[str]:
    """The flags oneDNN may use under ``ONEDNN_MAX_CPU_ISA=max_isa`` (all of them when it is empty or ``ALL``).

    ``AVX512_CORE_AMX`` and other caps that keep AMX keep every flag.
    """
    isa = max_isa.strip().upper()
    if "AMX" not in isa:
        for prefixes, dropped in _ISA_CAPS:
            if isa.startswith(prefixes):
                return frozenset(f for f in flags if not f.startswith(dropped))
    return frozenset(flags)


def usable_cpu_flags() -> frozenset[str]:
    """This CPU's flags as oneDNN sees them: ``cpu_flags`` under the ``ONEDNN_MAX_CPU_ISA`` cap, if one is set."""
    import os

    return capped_flags(cpu_flags(), os.environ.get("ONEDNN_MAX_CPU_ISA", ""))


def gpu_capabilities() -> list[tuple[int, int]]:
    """The compute capability of each GPU the Keras backend sees ((0, 0) where unknown)."""
    from dreamer import backend

    return backend.gpu_capabilities()


def detect_precision(requested: str = "auto", depthwise: bool = False) -> str:
    """``resolve_precision`` for this machine (and a network with or without depthwise convolutions)."""
    if requested != "auto" or depthwise:
        return resolve_precision(requested, (), depthwise=depthwise)
    return resolve_precision(requested, usable_cpu_flags(), gpu_capabilities())
