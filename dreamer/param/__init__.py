"""Image parameterisations for rendering from noise (feature visualisation).

- ``colour``: the square root of the photos' colour covariance (decorrelated colour);
- ``fourier``: the image as 1/frequency-scaled Fourier coefficients, squashed by a sigmoid;
- ``transforms``: the random pad, shift, scale and rotation every step must survive;
- ``render``: Adam on the spectrum, per-image scores (channels, classes, any
  objective) and the diversity penalty between variants;
- ``pixels``: the grey noise start of the other parameterisation, ``pixels``
  (the engine's own gradient ascent on the pixels, ``dreamer.engine.ascend``).

The settings are ``dreamer.config.FourierConfig`` and ``Moves``; the list of
parameterisations is ``dreamer.config.PARAMETERISATIONS``.
"""
