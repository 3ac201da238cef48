"""The words of a batch: its progress line and its closing summary.

Pure functions from ``BatchEvent`` and ``Summary`` to text; the CLI decides
where the text goes (stderr, one line per event).
"""

from __future__ import annotations

from dreamer.batch.runner import BatchEvent, Summary


def start_text(event: BatchEvent) -> str:
    """``412 done, 88 to go`` (or ``20 to render`` on a fresh folder; nothing when all are done)."""
    left = event.total - event.done
    if left == 0:
        return ""  # nothing to render: the summary names what is there
    if event.done == 0:
        return f"{left} to render"
    return f"{event.done} done, {left} to go"


def progress_text(event: BatchEvent) -> str | None:
    """The progress line for an event, or None for events that need none.

    ``[13/100] rendering trips/cat.jpg  elapsed 0:01:05  ETA 0:07:15``
    """
    width = len(str(event.total))
    head = f"[{event.done:>{width}}/{event.total}]"
    timing = f"elapsed {clock(event.elapsed)}  ETA {'?' if event.eta is None else clock(event.eta)}"
    if event.kind == "rendering":
        return f"{head} rendering {event.name}  {timing}"
    if event.kind == "finished":
        return f"{head} wrote {event.message}"
    if event.kind == "failed":
        return f"{head} failed: {event.message}"
    if event.kind == "elsewhere":
        return f"{head} {event.name}: done by another process"
    return None


#: What a rerun that finds its results already there says it can do instead.
AGAIN_HINT = "--force renders again, a new --seed renders another beside it"


def summary_text(summary: Summary) -> str:
    """``rendered 88, skipped 412 (already done), failed 1, in 0:12:03``, then one line per failure.

    A run that found every result already there names it (or them) instead, and how to get new ones.
    """
    if summary.existing and len(summary.existing) == summary.total and not summary.failed:
        return already_done_text(summary)
    parts = [f"rendered {summary.rendered}"]
    if summary.done_before:
        parts.append(f"skipped {summary.done_before} (already done)")
    if summary.elsewhere:
        parts.append(f"{summary.elsewhere} by another process")
    parts.append(f"failed {len(summary.failed)}")
    lines = [", ".join(parts) + f", in {clock(summary.seconds)}"]
    lines += [f"  failed: {reason}" for _name, reason in summary.failed]
    return "\n".join(lines)


def already_done_text(summary: Summary) -> str:
    """``already done (same input and settings): outputs/cat_....png; --force renders again, ...``."""
    if len(summary.existing) == 1:
        return f"already done (same input and settings): {summary.existing[0]}; {AGAIN_HINT}"
    where = f"in {summary.folder}/ (listed in its dreamer-manifest.jsonl)" if summary.folder else "there"
    return f"already done (same inputs and settings): all {len(summary.existing)} results, {where}; {AGAIN_HINT}"


def clock(seconds: float) -> str:
    """Seconds as ``H:MM:SS``."""
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02}:{seconds % 60:02}"
