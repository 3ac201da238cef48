"""The zoom's and the video's default settings, as plain numbers (``--help`` needs no TensorFlow).

Chosen by looking at results on the default model (EfficientNet-Lite0,
``block5c_add``): a zoom of 5 steps at 2 octaves per frame keeps inventing
clear forms at 5% zoom a frame; a video dreams its first frame with 10 steps
at 2 octaves, and each later frame with 3 (``carried_iterations`` of a 0.7
blend), which keeps the same strength and flickers less than half as much as
dreaming every frame on its own.
"""

ZOOM = {"iterations": 5, "octaves": 2, "zoom": 1.05, "rotate": 0.0, "frames": 60, "fps": 24.0,
        "size": "512x512"}
VIDEO = {"iterations": 10, "octaves": 2, "blend": 0.7, "method": "dis"}
#: H.264 quality (constant rate factor): 0 lossless, 51 worst; 18 looks like the source.
CRF = 18
