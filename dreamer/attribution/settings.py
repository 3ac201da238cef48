"""What an explanation is asked for: the methods, the target, and every number they use.

``ExplainSettings`` is a frozen dataclass of plain values (so it travels in a
batch job as JSON and is recorded in each result's JSON). ``METHODS`` names
the attribution methods in the order a sheet shows them; ``DEFAULT_METHODS``
is the pair shown when none is chosen.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, fields

from dreamer.errors import DreamerError

#: Every method, by its command-line name, with a one-line description.
METHODS = {
    "gradients": "vanilla gradients: |d score / d pixel|, the largest over colour channels",
    "smoothgrad": "SmoothGrad: the gradient averaged over noisy copies of the image",
    "integrated-gradients": "Integrated Gradients: gradients along the path from a baseline, times (image - baseline)",
    "gradcam": "Grad-CAM: a layer's channels weighed by their mean gradient",
    "gradcam++": "Grad-CAM++: Grad-CAM with per-position weights (better with several objects)",
    "scorecam": "Score-CAM: each channel's map used as a mask, weighed by the score it keeps (no gradients)",
    "occlusion": "occlusion: the score lost when a patch is greyed out (model-free reference)",
}
#: The pair shown when no --method is given: a coarse, readable map and a fine one. Measured on the sample
#: photos with the default model (docs/guide/explain.md), Grad-CAM passes the randomisation check best of the
#: gradient methods, and SmoothGrad has the lowest deletion area and passes it better than vanilla
#: gradients or Integrated Gradients.
DEFAULT_METHODS = ("gradcam", "smoothgrad")
#: Methods that need a layer with height and width.
LAYER_METHODS = ("gradcam", "gradcam++", "scorecam")
BASELINES = ("black", "blurred", "noise")
ALIASES = {"ig": "integrated-gradients", "saliency": "gradients", "vanilla": "gradients",
           "grad-cam": "gradcam", "grad-cam++": "gradcam++", "gradcampp": "gradcam++", "score-cam": "scorecam"}


@dataclass(frozen=True)
class ExplainSettings:
    """The numbers the methods and the checks use.

    Attributes:
        size: the short side (px) the network sees the photo at; maps are computed
            there and upsampled for the overlay. 0: the model's classification size.
        batch: images per forward/backward pass (bounds memory).
        samples: SmoothGrad's noisy copies and Integrated Gradients' path steps.
        noise: SmoothGrad's noise, as a fraction of the image's value range.
        baseline: Integrated Gradients' start: black, blurred or noise.
        cam_layer: the layer of Grad-CAM, Grad-CAM++ and Score-CAM ("" = the last spatial layer,
            or the target's own layer when the target is a layer objective).
        scorecam_channels: Score-CAM uses this many channels (the most active).
        occlusion_patch: the occluding patch's side, as a fraction of the short side.
        curve_steps: points on the deletion and insertion curves.
        cascade: how many weighted layers, counted from the top, are re-randomised at each
            step of the sanity check.
        seed: for noise (SmoothGrad, the noise baseline) and the sanity check's shuffles.
    """

    size: int = 0
    batch: int = 16
    samples: int = 24
    noise: float = 0.15
    baseline: str = "black"
    cam_layer: str = ""
    scorecam_channels: int = 64
    occlusion_patch: float = 0.15
    curve_steps: int = 16
    cascade: tuple = (1, 3, 8)
    seed: int = 0

    def __post_init__(self):
        if self.baseline not in BASELINES:
            raise DreamerError(f"unknown baseline {self.baseline!r}; choose one of {', '.join(BASELINES)}")
        for name in ("batch", "samples", "scorecam_channels", "curve_steps"):
            if int(getattr(self, name)) < 1:
                raise DreamerError(f"{name.replace('_', '-')} must be at least 1")
        if self.size < 0:
            raise DreamerError("size must be 0 (the model's own) or a positive number of pixels")
        if not 0 < self.occlusion_patch <= 1:
            raise DreamerError("occlusion-patch is a fraction of the short side, in (0, 1]")
        if not 0 <= self.noise <= 1:
            raise DreamerError("noise is a fraction of the value range, in [0, 1]")
        object.__setattr__(self, "cascade", tuple(sorted({int(n) for n in self.cascade})))
        if not self.cascade or self.cascade[0] < 1:
            raise DreamerError("cascade needs layer counts of at least 1")

    def as_dict(self) -> dict:
        """The settings as plain JSON values."""
        values = asdict(self)
        values["cascade"] = list(self.cascade)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "ExplainSettings":
        known = {f.name for f in fields(cls)}
        return cls(**{k: (tuple(v) if k == "cascade" else v) for k, v in values.items() if k in known})


def parse_methods(texts) -> tuple[str, ...]:
    """Method names (repeated or comma-separated, aliases and ``all`` allowed) -> known names, in the order given.

    Raises:
        DreamerError: an unknown method, naming the closest ones.
    """
    chosen: list[str] = []
    for text in texts:
        for name in (part.strip().lower() for part in str(text).split(",")):
            if not name:
                continue
            name = ALIASES.get(name, name)
            if name == "all":
                chosen.extend(m for m in METHODS if m not in chosen)
                continue
            if name not in METHODS:
                close = difflib.get_close_matches(name, list(METHODS) + list(ALIASES), n=3, cutoff=0.5)
                hint = f"; closest: {', '.join(close)}" if close else ""
                raise DreamerError(f"unknown method {name!r}{hint} (methods: {', '.join(METHODS)})")
            if name not in chosen:
                chosen.append(name)
    return tuple(chosen) or DEFAULT_METHODS
