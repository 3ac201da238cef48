"""The objective grammar: the text that names objectives (``--layer``, ``layers=``).

``parse_objective`` reads it (see ``GRAMMAR``), still accepting the older
``NAME=WEIGHT``; ``combine`` turns what the API and CLI accept (text, a list,
a dict of name -> weight, an Objective) into one objective. Errors are one
line that names the position and what was expected.
"""

from __future__ import annotations

import math
import re
from typing import Mapping

from dreamer.errors import DreamerError
from dreamer.objectives.terms import LOSSES, Objective, _loss, channel, class_logit, layer, neuron

#: The objective grammar, as shown in ``dream --help`` and docs/guide/steering.md.
GRAMMAR = """\
  block5c_add                  a whole layer
  block5c_add:97               one channel
  block5c_add:97,98,0-7        several channels (ranges allowed)
  block5c_add:97@center        one neuron: channel 97 at the centre of the image (whatever the tiling)
  class(tabby), class(281)     the logit of a class (name or index)
  block5c_add + 0.5*block4c_add:12     a weighted sum
  block5c_add - 0.3*block3b_add        a negative weight suppresses a feature
  block5c_add:97[l2]           a per-term loss: [l2] or [mean]
  block5c_add=0.5              the older NAME=WEIGHT form"""


class _Parser:
    """A recursive-descent reader of the objective grammar; errors name the position."""

    NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_./]*")
    NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
    INT = re.compile(r"\d+")
    #: ``-7`` right after a channel number (no space) is a range, unless it is a weight (``-0.3*...``).
    RANGE_END = re.compile(r"-(\d+)(?![\d.eE]|\s*\*)")

    def __init__(self, text: str, loss: str | None, what: str = "objective"):
        self.text = text
        self.pos = 0
        self.loss = loss
        self.what = what

    def fail(self, expected: str):
        found = f"{self.text[self.pos]!r}" if self.pos < len(self.text) else "the end"
        raise DreamerError(
            f"bad {self.what} {self.text!r}: expected {expected} at position {self.pos + 1}, found {found}"
        )

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def accept(self, char: str) -> bool:
        self.skip()
        if self.text.startswith(char, self.pos):
            self.pos += len(char)
            return True
        return False

    def match(self, pattern: re.Pattern, expected: str) -> str:
        self.skip()
        found = pattern.match(self.text, self.pos)
        if not found:
            self.fail(expected)
        self.pos = found.end()
        return found.group()

    def number(self) -> float:
        value = float(self.match(self.NUMBER, "a number"))
        if not math.isfinite(value):
            self.fail("a finite number")
        return value

    def at_number(self) -> bool:
        self.skip()
        return bool(self.NUMBER.match(self.text, self.pos))

    def parse(self) -> Objective:
        self.skip()
        if self.pos == len(self.text):
            self.fail("a layer name or class(...)")
        negative = self.accept("-")
        if not negative:
            self.accept("+")
        total = -self.term() if negative else self.term()
        while True:
            if self.accept("+"):
                total = total + self.term()
            elif self.accept("-"):
                total = total - self.term()
            else:
                break
        self.skip()
        if self.pos != len(self.text):
            self.fail("'+', '-' or the end")
        return total

    def term(self) -> Objective:
        weight = 1.0
        if self.at_number():
            weight = self.number()
            if not self.accept("*"):
                self.fail("'*' after the weight")
        atom = self.atom()
        if self.accept("*"):
            weight *= self.number()
        if self.accept("="):
            negative = self.accept("-")
            weight *= -self.number() if negative else self.number()
        return atom if weight == 1.0 else weight * atom

    def atom(self) -> Objective:
        name = self.match(self.NAME, "a layer name or class(...)")
        if name == "class" and self.accept("("):
            return self.class_atom()
        kind, channels = "layer", ()
        if self.accept(":"):
            channels = self.channel_list()
            kind = "channel"
            if self.accept("@"):
                self.match(re.compile(r"cent(?:er|re)\b"), "'center' after '@'")
                if len(channels) != 1:
                    self.fail("one channel before '@center'")
                kind = "neuron"
        loss = self.loss
        if self.accept("["):
            loss = self.match(re.compile("|".join(LOSSES)), f"a loss ({' or '.join(LOSSES)})")
            if not self.accept("]"):
                self.fail("']'")
        if kind == "layer":
            return layer(name, loss)
        if kind == "neuron":
            return neuron(name, channels[0], loss)
        return channel(name, channels, loss)

    def class_atom(self) -> Objective:
        self.skip()
        end = self.text.find(")", self.pos)
        if end < 0:
            self.pos = len(self.text)
            self.fail("')' closing class(")
        query = self.text[self.pos:end].strip().strip("'\"").strip()
        if not query:
            self.fail("a class name or index")
        self.pos = end + 1
        return class_logit(query)

    def channel_list(self) -> tuple[int, ...]:
        channels: list[int] = []
        while True:
            first = int(self.match(self.INT, "a channel number"))
            last = first
            found = self.RANGE_END.match(self.text, self.pos)
            if found:
                last = int(found.group(1))
                if last < first:
                    self.pos += 1
                    self.fail(f"a range end of at least {first}")
                self.pos = found.end()
            channels.extend(range(first, last + 1))
            if not self.accept(","):
                return tuple(channels)


def parse_channel_list(text: str) -> tuple[int, ...]:
    """``"0-7,12"`` -> ``(0, 1, ..., 7, 12)``.

    Raises:
        DreamerError: one line naming the position and what was expected.
    """
    parser = _Parser(text, None, "channel list")
    channels = parser.channel_list()
    parser.skip()
    if parser.pos != len(text):
        parser.fail("',' or the end")
    return channels


def parse_objective(text: str, loss: str | None = None) -> Objective:
    """Objective text (see ``GRAMMAR``) -> an objective (classes still unbound).

    Args:
        text: e.g. ``"block5c_add:97 + 0.5*block4c_add - 0.3*block3b_add"``.
        loss: ``"l2"``, ``"mean"``, or None for each term's natural loss; a
            term's own ``[l2]``/``[mean]`` wins.

    Raises:
        DreamerError: one line naming the position and what was expected.
    """
    return _Parser(text, _loss(loss, "l2") if loss is not None else None).parse()


def combine(specs, loss: str | None = None) -> Objective:
    """Layers as the API and CLI accept them -> one objective.

    Args:
        specs: an Objective; objective text (``"block5c_add:97 + class(tabby)"``,
            ``name=weight``); a list of them (summed); or a dict of name -> weight.
        loss: see ``parse_objective``.
    """
    if isinstance(specs, Objective):
        return specs
    if isinstance(specs, str):
        specs = [specs]
    if isinstance(specs, Mapping):
        parts = [float(w) * parse_objective(n, loss) for n, w in specs.items()]
    else:
        parts = [s if isinstance(s, Objective) else parse_objective(s, loss) for s in specs]
    if not parts:
        raise DreamerError("no layer given")
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def build_objective(layers, classes, loss: str | None, default_layer: str) -> Objective:
    """``layers`` plus the logits of ``classes``; the default layer when both are empty."""
    class_terms = [class_logit(c) for c in ([classes] if isinstance(classes, (str, int)) else classes or ())]
    if layers is None or (not isinstance(layers, Objective) and len(layers) == 0):
        if class_terms:
            return combine(class_terms)
        layers = default_layer
    objective = combine(layers, loss)
    return combine([objective, *class_terms]) if class_terms else objective
