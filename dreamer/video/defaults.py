"""The per-frame dream settings and the run defaults of ``dream zoom`` and ``dream video``.

Chosen by looking at results on the default model (EfficientNet-Lite0,
``block5c_add``): a zoom of 5 steps at 2 octaves per frame keeps inventing
clear forms at 5% zoom a frame; a video dreams its first frame with 10 steps
at 2 octaves and each later frame with 3 (``carried_iterations`` of the 0.7
blend), which keeps one frame's strength and flickers less than half as much
as dreaming every frame on its own. The motion and coherence settings are
declared with their defaults in ``ZoomMotion`` and ``Coherence``.
"""

from dreamer.config import DreamConfig

ZOOM_CONFIG = DreamConfig(iterations=5, octaves=2)
VIDEO_CONFIG = DreamConfig(iterations=10, octaves=2)
ZOOM_FRAMES = 60
ZOOM_FPS = 24.0
#: The frame size (W, H) of a zoom that starts from grey noise.
ZOOM_NOISE_SIZE = (512, 512)
#: H.264 quality (constant rate factor): 0 lossless, 51 worst; 18 looks like the source.
CRF = 18
