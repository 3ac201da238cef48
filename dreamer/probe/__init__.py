"""``dream probe``: at which layer does a network stop telling x from T(x)?

For a model, images and a transform T (hflip, vflip, rot90, shift:N,
scale:F, gray), each probed layer gets invariance (pooled and whole-map),
equivariance with channels re-paired, and decodability (cross-validated
accuracy of a pooled and of a 2x2-grid linear head telling x from T(x), each
with a 95% interval over the images); two folders of pairs or of classes
replace T(x). The modules follow the data: ``inputs`` (images in, their
groups), ``transforms``, ``augment`` (variants of an image), ``features``
(layers and activations), ``collect`` (one pass, running sums), ``scores``
and ``decode`` (the numbers), ``verdict`` (the answer: which head decodes
down to which layer), ``measure`` (``probe()``, tying them together), then
``report`` and ``plot`` (text and files) and ``export`` (the network cut at
the answer's layer plus its head, as a plain Keras model).

    from dreamer.probe import probe
    result = probe(["a.png", "b.png", "c.png", "d.png"], transform="hflip")
    result.verdict.text, [layer.decodability for layer in result.layers]

The package imports its heavy parts (numpy, scipy, TensorFlow) only when
``probe`` or a result type is first used, so ``dreamer.probe.settings`` is
cheap to import for ``dream --help``.
"""

from __future__ import annotations

__all__ = ["LayerScores", "ProbeResult", "ProbeSettings", "Verdict", "probe"]


def __getattr__(name: str):
    if name == "ProbeSettings":
        from dreamer.probe.settings import ProbeSettings

        return ProbeSettings
    if name in ("LayerScores", "ProbeResult", "probe"):
        from dreamer.probe import measure

        return getattr(measure, name)
    if name == "Verdict":
        from dreamer.probe.verdict import Verdict

        return Verdict
    raise AttributeError(f"module 'dreamer.probe' has no attribute {name!r}")
