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


def gpu_capabilities() -> list[tuple[int, int]]:
    """The compute capability of each GPU the Keras backend sees ((0, 0) where unknown)."""
    from dreamer import backend

    return backend.gpu_capabilities()


def detect_precision(requested: str = "auto", depthwise: bool = False) -> str:
    """``resolve_precision`` for this machine (and a network with or without depthwise convolutions)."""
    if requested != "auto" or depthwise:
        return resolve_precision(requested, (), depthwise=depthwise)
    return resolve_precision(requested, cpu_flags(), gpu_capabilities())
