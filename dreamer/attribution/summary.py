"""What a finished explain batch shows: the trust table, and the sheet of every result.

``finished_records(batch)`` reads each item's JSON record (this run's and
earlier runs'); ``trust_table(records)`` is the small table ``dream explain
--check`` prints: per method, the mean deletion and insertion areas and the
randomisation check's rank correlation (after the top layer, and after the
whole cascade) over the photos. ``sheet_png(batch)`` stacks the per-photo
figures into one picture (``--sheet``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dreamer.attribution.figures import stacked_png


def finished_paths(batch) -> list[Path]:
    """The figure of each item that has a finished result, in input order."""
    latest: dict[str, str] = {}
    batch.manifest.refresh()
    for record in batch.manifest.records:
        if record.get("status") == "done":
            latest[str(record.get("key"))] = str(record.get("output"))
    paths = [batch.folder / latest[item.key] for item in batch.items if item.key in latest]
    return [path for path in paths if path.is_file()]


def finished_records(batch) -> list[dict]:
    """The JSON record beside each finished figure (those that can be read)."""
    records = []
    for path in finished_paths(batch):
        try:
            records.append(json.loads(path.with_suffix(".json").read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return records


def trust_rows(records: list[dict]) -> dict[str, dict]:
    """method -> {"n", "deletion", "insertion", "rho_top", "rho_cascade", "cascade"}: means over the records."""
    rows: dict[str, dict] = {}
    for record in records:
        for method, trust in (record.get("trust") or {}).items():
            row = rows.setdefault(method, {"deletion": [], "insertion": [], "rho_top": [], "rho_cascade": []})
            row["deletion"].append(trust["deletion"])
            row["insertion"].append(trust["insertion"])
            steps = trust.get("randomisation") or []
            if steps:
                row["rho_top"].append(steps[0]["rank_correlation"])
                row["rho_cascade"].append(steps[-1]["rank_correlation"])
                row["cascade"] = steps[-1]["layers"]
    return {method: {"n": len(row["deletion"]), "cascade": row.get("cascade"),
                     **{key: _mean(row[key]) for key in ("deletion", "insertion", "rho_top", "rho_cascade")}}
            for method, row in rows.items()}


def trust_table(records: list[dict]) -> str:
    """The table ``--check`` prints (an explanation of the columns under it)."""
    rows = trust_rows(records)
    if not rows:
        return "no trust measurements (run with --check)"
    cascade = next((row["cascade"] for row in rows.values() if row["cascade"]), None)
    head = f"{'method':<22}{'deletion':>10}{'insertion':>11}{'rho top-1':>11}{f'rho top-{cascade}':>12}{'photos':>8}"
    lines = [head, "-" * len(head)]
    for method, row in rows.items():
        lines.append(f"{method:<22}{_text(row['deletion']):>10}{_text(row['insertion']):>11}"
                     f"{_text(row['rho_top']):>11}{_text(row['rho_cascade']):>12}{row['n']:>8}")
    lines += ["deletion: area under the class probability as the most attributed pixels are blacked out "
              "(lower is better)",
              "insertion: the same as they are put back onto a blurred copy (higher is better)",
              f"rho: rank correlation with the same method's map once the top 1 / top {cascade} weighted layers' "
              "weights are shuffled",
              "     (near 0 passes the sanity check; near 1: the map does not depend on what the network learnt)"]
    return "\n".join(lines)


def sheet_png(batch) -> bytes | None:
    """Every finished figure of the batch, one under another (None when there is none)."""
    figures = [path.read_bytes() for path in finished_paths(batch)]
    return stacked_png(figures) if figures else None


def _mean(values) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _text(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
