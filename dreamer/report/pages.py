"""The report site's pages as plain HTML strings: index, one page per layer, the images, one page per image.

Every link and image source is relative, so the site opens from ``file://``
with no server and no network; the pages share ``style.css`` and a few
lines of ``filter.js`` (a text box that hides the cards that don't match).
Everything the user's data puts in a page goes through ``html.escape``.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Sequence

STYLE = """body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
a{color:#0645ad}h1{font-size:1.4em}table{border-collapse:collapse}
td,th{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left}
.grid{display:flex;flex-wrap:wrap;gap:12px}.card{background:#fff;border:1px solid #ddd;padding:8px;width:min-content}
.card img{display:block}.row{display:flex;gap:3px;margin:4px 0}.muted{color:#777}
.cols{display:flex;gap:8px}.patches{display:flex;flex-wrap:wrap;gap:3px;width:176px;margin:2px 0 4px}
nav{margin-bottom:1em}input.filter{margin:0 0 1em;padding:.3em;width:20em}
"""

FILTER_JS = """document.addEventListener("DOMContentLoaded", function () {
  var box = document.querySelector("input.filter");
  if (!box) return;
  box.addEventListener("input", function () {
    var text = box.value.toLowerCase();
    document.querySelectorAll(".card").forEach(function (card) {
      card.style.display = card.dataset.key.toLowerCase().indexOf(text) >= 0 ? "" : "none";
    });
  });
});
"""


@dataclass(frozen=True)
class Tile:
    """An image on a page: its file (relative to the site), a caption, a link (relative to the site) or ""."""

    src: str
    caption: str = ""
    link: str = ""


def page(title: str, body: str, depth: int = 0) -> str:
    """A whole page; ``depth`` is how many folders below the site's root it lives."""
    up = "../" * depth
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<link rel="stylesheet" href="{up}style.css"><script src="{up}filter.js"></script></head>\n<body>'
            f'<nav><a href="{up}index.html">layers</a> · <a href="{up}images.html">images</a></nav>'
            f'<h1>{escape(title)}</h1>\n{body}\n</body></html>\n')


def img(tile: Tile, depth: int, side: int | None = None) -> str:
    """An <img> (inside a link when the tile has one), its caption as the title."""
    up = "../" * depth
    size = f' width="{side}" height="{side}"' if side else ""
    tag = f'<img src="{up}{escape(tile.src)}" alt="{escape(tile.caption)}" title="{escape(tile.caption)}"{size}>'
    return f'<a href="{up}{escape(tile.link)}">{tag}</a>' if tile.link else tag


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table; the cells are HTML already (escape text before)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def index_page(model: str, layers: Sequence[dict], note: str, count: int) -> str:
    """The layers: name (a link), shape, the channels shown, and the probe's columns when given.

    Each layer is a dict with ``name``, ``page``, ``shape``, ``channels`` and optionally ``probe`` (column -> text).
    """
    probe_columns = list(layers[0].get("probe", {})) if layers else []
    rows = [[f'<a href="{escape(layer["page"])}">{escape(layer["name"])}</a>', escape(layer["shape"]),
             escape(layer["channels"])] + [escape(layer.get("probe", {}).get(c, "-")) for c in probe_columns]
            for layer in layers]
    body = (f'<p>Model <b>{escape(model)}</b>, {count} images. Each layer page shows its channels: the feature '
            f'visualisation, the image patches that excite the channel most, and how its mean activation is '
            f'spread over the images.</p>' + table(["layer", "shape at the report's size", "channels shown"]
                                                   + probe_columns, rows))
    if note:
        body += f'<p class="muted">{escape(note)}</p>'
    return page(f"{model}: layers", body)


def layer_page(layer: str, shape: str, cards: Sequence[dict]) -> str:
    """A layer's channels, a card each: number, feature visualisation, top patches, histogram.

    Each card is a dict with ``channel``, ``render`` (a Tile or None), ``patches`` (Tiles) and ``hist`` (a Tile).
    """
    parts = ['<input class="filter" placeholder="filter by channel number">', '<div class="grid">']
    for card in cards:
        render = img(card["render"], 1, 128) if card["render"] else '<p class="muted">no render</p>'
        patches = "".join(img(tile, 1, 56) for tile in card["patches"])
        parts.append(f'<div class="card" data-key="{card["channel"]}"><b>channel {card["channel"]}</b>'
                     f'<div class="cols"><div>{render}</div><div><div class="muted">top patches</div>'
                     f'<div class="patches">{patches}</div><div class="muted">mean activation per image</div>'
                     f'{img(card["hist"], 1)}</div></div></div>')
    parts.append("</div>")
    return page(f"{layer} ({shape})", "\n".join(parts), depth=1)


def images_page(cards: Sequence[dict]) -> str:
    """Every image: a thumbnail linking to its page, its top class. Cards: ``tile`` (a Tile) and ``key`` (text)."""
    parts = ['<input class="filter" placeholder="filter by name or class">', '<div class="grid">']
    for card in cards:
        parts.append(f'<div class="card" data-key="{escape(card["key"])}">{img(card["tile"], 0, 128)}'
                     f'<div class="muted">{escape(card["tile"].caption)}</div></div>')
    parts.append("</div>")
    return page("images", "\n".join(parts))


def image_page(name: str, tile: Tile, classes: Sequence[tuple[str, float]], channels: Sequence[Tile],
               attributions: Sequence[Tile] = ()) -> str:
    """One image: the square the network saw, its top classes, the shown channels it excites most, and the
    attribution maps when ``dream explain`` made them (the section is left out otherwise)."""
    body = img(tile, 1, 224)
    if classes:
        body += "<h2>top classes</h2>" + table(["class", "probability"],
                                                [[escape(label), f"{p:.1%}"] for label, p in classes])
    if channels:
        body += ('<h2>channels it excites most</h2><div class="row">'
                 + "".join(img(t, 1, 96) for t in channels) + "</div>")
    if attributions:
        body += ('<h2>attribution</h2><div class="row">'
                 + "".join(f"<figure>{img(t, 1, 224)}<figcaption>{escape(t.caption)}</figcaption></figure>"
                           for t in attributions) + "</div>")
    return page(name, body, depth=1)
