"""What to maximise: objective values (``terms``) and the text that names them (``grammar``).

``from dreamer.objectives import channel, layer`` builds objectives in code;
``parse_objective("block5c_add:97 + 0.5*block4c_add")`` reads them from text.
"""

from dreamer.objectives.grammar import (
    GRAMMAR,
    build_objective,
    combine,
    parse_channel_list,
    parse_objective,
)
from dreamer.objectives.guide import GuideObjective, guide, guided
from dreamer.objectives.terms import (
    FRAME,
    LOSSES,
    ChannelObjective,
    ClassObjective,
    LayerObjective,
    NeuronObjective,
    Objective,
    Sum,
    activation_loss,
    bind,
    channel,
    channel_list_text,
    check_channels,
    class_logit,
    layer,
    neuron,
    resolve_class,
)

__all__ = [
    "FRAME", "GRAMMAR", "LOSSES", "ChannelObjective", "ClassObjective", "GuideObjective", "LayerObjective",
    "NeuronObjective", "Objective", "Sum", "activation_loss", "bind", "build_objective", "channel", "channel_list_text",
    "check_channels", "class_logit", "combine", "guide", "guided", "layer", "neuron", "parse_channel_list",
    "parse_objective", "resolve_class",
]
