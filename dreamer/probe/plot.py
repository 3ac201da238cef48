"""The probe's figure: every score against depth, with the layer names.

matplotlib is imported here only, with the Agg backend (no display needed),
so ``dream --help`` never pays for it. The format follows the extension
(PNG, SVG, PDF); the file is written atomically.
"""

from __future__ import annotations

from pathlib import Path

from dreamer.errors import ImageError
from dreamer.fileio import atomic_path

#: What is drawn: (field of LayerScores, legend label, line style).
CURVES = (
    ("decodability", "decodability, pooled head (band: 95% interval)", "-o"),
    ("decodability_grid", "decodability, 2x2-grid head (band: 95% interval)", "--o"),
    ("invariance", "invariance, pooled", "-s"),
    ("invariance_map", "invariance, whole map", "--s"),
    ("equivariance", "equivariance, channels re-paired", ":^"),
)
FORMATS = ("png", "svg", "pdf")


def check_plot_path(path: Path) -> str:
    """The format named by ``path``'s extension.

    Raises:
        ImageError: an extension matplotlib is not asked to write here.
    """
    extension = path.suffix.lower().lstrip(".")
    if extension not in FORMATS:
        raise ImageError(f"{path}: the plot's extension must be one of {', '.join('.' + f for f in FORMATS)}")
    return extension


def save_plot(result, path: Path, title: str | None = None) -> Path:
    """Draw ``result`` (a ProbeResult) and save it to ``path``, atomically."""
    extension = check_plot_path(path)
    figure = draw(result, title)
    try:
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format=extension, dpi=110, bbox_inches="tight")
    except OSError as exc:
        raise ImageError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        import matplotlib.pyplot as plt

        plt.close(figure)
    return path


def draw(result, title: str | None = None):
    """A matplotlib Figure of the scores by layer: the threshold, 50% and its chance band marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = result.layers
    positions = list(range(len(layers)))
    figure, axes = plt.subplots(figsize=(max(7.0, 0.42 * len(layers) + 3), 4.8))
    for key, label, style in CURVES:
        values = [getattr(layer, key) for layer in layers]
        if any(v is not None for v in values):
            line, = axes.plot(positions, [float("nan") if v is None else v for v in values], style, label=label,
                              markersize=4)
            _interval_band(axes, layers, key, positions, line.get_color())
    axes.axhspan(0.5 - result.chance, 0.5 + result.chance, color="0.85", zorder=0,
                 label=f"chance (50% +- {result.chance:.0%})")
    axes.axhline(result.settings.threshold, color="0.4", linewidth=0.8, linestyle="-.",
                 label=f"decodable ({result.settings.threshold:.0%})")
    axes.set_xticks(positions, [layer.name for layer in layers], rotation=60, ha="right", fontsize=8)
    names = [layer.name for layer in layers]
    if result.verdict.decodable_to in names:
        axes.axvline(names.index(result.verdict.decodable_to), color="black", linewidth=1.2, alpha=0.6,
                     label=f"answer: decodable up to here ({result.verdict.head} head)")
    axes.set_xlabel("layer (input side on the left, class output on the right)", fontsize=9)
    axes.set_ylabel("score (1: invariant / perfectly decodable)")
    axes.set_ylim(min(-0.05, _lowest(layers) - 0.05), 1.05)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    first, second = result.labels
    axes.set_title(title or f"{result.model}: {first} versus {second} ({len(result.inputs)} images)", fontsize=10)
    return figure


def _interval_band(axes, layers, key: str, positions: list, color) -> None:
    """The decodability's 95% interval as a shaded band around its curve (nothing for other scores)."""
    lows = [getattr(layer, f"{key}_low", None) for layer in layers]
    highs = [getattr(layer, f"{key}_high", None) for layer in layers]
    if not key.startswith("decodability") or all(v is None for v in lows):
        return
    axes.fill_between(positions, [float("nan") if v is None else v for v in lows],
                      [float("nan") if v is None else v for v in highs], color=color, alpha=0.15, linewidth=0)


def _lowest(layers) -> float:
    values = [getattr(layer, key) for layer in layers for key, _, _ in CURVES]
    return min((v for v in values if v is not None), default=0.0)
