"""``dream explain``: which pixels made the network decide, and how far to trust the answer.

The data flow, one module a stage:

    settings.py  the methods and the numbers they use (ExplainSettings)
    network.py   the target (predicted class, a class, an objective) and the network that scores it
    gradient.py  the one place that takes a gradient (TensorFlow's tape today)
    pixels.py    vanilla gradients, SmoothGrad, Integrated Gradients
    cams.py      Grad-CAM, Grad-CAM++, Score-CAM, occlusion
    trust.py     deletion/insertion areas, the model-randomisation sanity check
    run.py       explain_image(): one photo -> maps, score, trust
    figures.py   overlays (heat map over the photo, colour bar, caption) and sheets
    results.py   the files of one result (overlays, .npy maps, JSON) and the batch worker
    api.py       explain(): paths or arrays in, Explanations out (and files, if asked)

``dreamer.explain(...)`` is ``api.explain``; ``explain_image`` and
``overlay_png`` are what other features (``dream report``) call.
"""

from dreamer.attribution.figures import overlay_png, stacked_png, write_overlay
from dreamer.attribution.network import Target, TargetSpec
from dreamer.attribution.run import METHOD_FUNCTIONS, Explanation, explain_image
from dreamer.attribution.settings import DEFAULT_METHODS, METHODS, ExplainSettings, parse_methods

__all__ = ["DEFAULT_METHODS", "METHODS", "METHOD_FUNCTIONS", "ExplainSettings", "Explanation", "Target",
           "TargetSpec", "explain_image", "overlay_png", "parse_methods", "stacked_png", "write_overlay"]
