"""Dataset examples: which real images, and which patches of them, excite a channel (``dream examples``).

- ``receptive``: the receptive field of a layer's position, from the Keras graph;
- ``store``: the activation cache (per image and layer: each channel's mean, peak, peak position);
- ``collect``: the folder's images, decoded and run once for all layers, in batches;
- ``rank``: running top-k and moments over the cache, the most active / selective channels;
- ``examples``: ``examples()`` and ``find_examples`` (the contract: see there);
- ``sheets``: a contact sheet per channel and ``examples.json``.
"""

from dreamer.dataset.examples import ChannelExamples, Example, ExamplesRequest, examples, find_examples
from dreamer.dataset.rank import ChannelChoice

__all__ = ["ChannelChoice", "ChannelExamples", "Example", "ExamplesRequest", "examples", "find_examples"]
