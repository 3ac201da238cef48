"""The ``dream`` command: a click group of commands, one module each, over ``dreamer.api``.

``dream [OPTIONS] INPUT...`` dreams (``dreamer.cli.dream``); ``dream layers``,
``dream models``, ``dream classify``, ``dream atlas``, ``dream zoom``, ``dream
video``, ``dream presets``, ``dream again``, ``dream info``, ``dream probe`` and
``dream explain`` have their own modules. TensorFlow is imported only inside the commands, so ``dream --help``
answers at once. A new command is a new module here, added to ``main`` below.

Exit codes: 0 all done; 1 at least one input failed (each is reported and
the others still run); 2 a bad command line, option, model or layer (found
before any work starts); 130 interrupted (Ctrl-C); 143 terminated (SIGTERM).
"""

from __future__ import annotations

import click

from dreamer.cli.again import again_command
from dreamer.cli.atlas import atlas_command
from dreamer.cli.classify import classify_command
from dreamer.cli.common import (
    EXIT_FAILED_INPUT,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    UserError,
    interrupt_exits,
    quiet_tensorflow_import,
)
from dreamer.cli.dream import dream_command
from dreamer.cli.examples import examples_command
from dreamer.cli.explain import explain_command
from dreamer.cli.info import info_command
from dreamer.cli.layers import layers_command
from dreamer.cli.models import models_command
from dreamer.cli.presets import presets_command
from dreamer.cli.probe import probe_command
from dreamer.cli.report import report_command
from dreamer.cli.video import video_command
from dreamer.cli.zoom import zoom_command
from dreamer.version import __version__

__all__ = [
    "EXIT_FAILED_INPUT", "EXIT_INTERRUPTED", "EXIT_TERMINATED", "EXIT_USAGE", "UserError", "main",
    "quiet_tensorflow_import",
]


class DefaultGroup(click.Group):
    """A group whose first argument, if not a subcommand, goes to the default command (dreaming).

    ``dream photo.jpg`` dreams; ``dream layers`` is the subcommand. ``dream
    --help`` shows the default command's help and lists the others.
    """

    default_command = dream_command.name

    def parse_args(self, ctx, args):
        ctx.meta["dreamer.argv"] = list(args)  # as typed, for messages that show a command to run again
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = [self.default_command, *args]
        with interrupt_exits():
            return super().parse_args(ctx, args)

    def invoke(self, ctx):
        """Run the command; a Ctrl-C that no command handled (TensorFlow's import, loading a model)
        exits 130 with one line, not click's ``Aborted!`` and 1."""
        with interrupt_exits():
            return super().invoke(ctx)

    def format_help(self, ctx, formatter):
        default = self.commands[self.default_command]
        with click.Context(default, info_name=ctx.info_name, parent=None) as sub:
            default.format_help(sub, formatter)
        with formatter.section("Other commands"):
            formatter.write_dl([(name, cmd.get_short_help_str(60)) for name, cmd in self.commands.items()
                                if name != self.default_command])


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dream")
def main():
    """dreamer: see what a neural network sees."""


for _command in (dream_command, layers_command, models_command, atlas_command, classify_command, zoom_command,
                 video_command, presets_command, again_command, info_command, probe_command, examples_command,
                 report_command, explain_command):
    main.add_command(_command)
