"""The PyTorch backend: autograd, run eagerly (``torch.compile`` did not pay on a dream's changing sizes).

Keras puts tensors on the GPU when PyTorch sees one (``cuda:0``), else the
CPU; inputs are converted with ``keras.ops.convert_to_tensor`` so they land
on that device.
"""

from __future__ import annotations

import keras
import torch

from dreamer.errors import first_line

RUNTIME_ERRORS = (RuntimeError, ValueError)
KERNEL_ERRORS = ()  # their CPU kernels exist for every dtype dreamer uses


def grad(loss):
    def value_and_gradient(x, *args):
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            value, aux = loss(x, *args)
            (gradient,) = torch.autograd.grad(value, x, allow_unused=True)  # None if unused, as a tape
        return value.detach(), keras.tree.map_structure(_detached, aux), gradient

    return value_and_gradient


def _detached(value):
    return value.detach() if isinstance(value, torch.Tensor) else value


def compile_step(step, signature, variables):
    dtypes = [dtype for _, dtype in signature]

    def compiled(*args):
        with torch.no_grad():  # no graph for the weights; ``grad`` turns it on for the image only
            return step(*(keras.ops.convert_to_tensor(arg, dtype) for arg, dtype in zip(args, dtypes)))

    return compiled


def error_reason(exc: BaseException) -> str:
    return first_line(str(exc), 160)


def gpu_capabilities() -> list[tuple[int, int]]:
    if not torch.cuda.is_available():
        return []
    return [tuple(torch.cuda.get_device_capability(i)) for i in range(torch.cuda.device_count())]


def devices() -> list[str]:
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return [f"cuda:{i}" for i in range(count)] or ["cpu:0"]
