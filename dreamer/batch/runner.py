"""The batch driver: decide what is left, claim it, have it rendered, write it down.

For every input the driver knows the result's planned name (its *key*).
A result is *done* when the manifest has a record for that key with the
same input hash and settings, and the file it names is there with the hash
recorded. Everything else is rendered: the driver claims the key (so no
other process renders it), checks the manifest once more (another process
may have finished it meanwhile), reads the input's bytes into a ``Job``, and
hands jobs to an executor. For each outcome it writes the outcome's side
files (``Outcome.files``, beside the result) and then the result file, each
atomically (temporary name, ``fsync``, rename), then appends the manifest
record, then releases the claim. A result file that exists without its
record (the process was killed between the two) is recognised by the
input hash and recipe it carries, and recorded instead of rendered again.

An existing file that is not this batch's result is never replaced without
``overwrite``: the result takes a free name (``_1``) and the manifest says so.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from dreamer.batch.claims import Claim, try_claim
from dreamer.batch.inputs import Input
from dreamer.batch.manifest import Manifest, record_for
from dreamer.batch.settings import same_recipe, same_result
from dreamer.errors import DreamerError
from dreamer.executors.base import Executor, Job, Outcome
from dreamer.fileio import atomic_path, file_digest
from dreamer.outputs import ensure_folder, free_name


@dataclass(frozen=True)
class Item:
    """One input and its result's planned name (relative to the output folder); ``shared`` when an
    earlier input of the batch has the same name, so this one's result was numbered."""

    input: Input
    key: str
    shared: bool = False


@dataclass(frozen=True)
class BatchEvent:
    """What the batch is doing, for a progress line.

    ``kind`` is ``"start"`` (``done`` results already there, ``total`` in
    all), ``"rendering"`` (``name`` handed to a worker), ``"finished"``,
    ``"failed"`` (``message`` says why) or ``"elsewhere"`` (another process
    has it). ``done`` counts results finished so far, ``eta`` the seconds
    left by the pace of this run (None before the first result).
    """

    kind: str
    done: int
    total: int
    name: str = ""
    message: str = ""
    elapsed: float = 0.0
    eta: float | None = None


@dataclass
class Summary:
    """The outcome of a batch run."""

    total: int
    done_before: int = 0
    rendered: int = 0
    elsewhere: int = 0
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    folder: Path | None = None
    existing: list[Path] = field(default_factory=list)  # the results that were already there (done_before)


Report = Callable[[BatchEvent], None]


def plan_items(inputs: Sequence[Input], names: Sequence[PurePosixPath]) -> list[Item]:
    """Pair each input with its planned result name."""
    seen: set[tuple[PurePosixPath, str]] = set()
    items = []
    for item, name in zip(inputs, names):
        stem = (item.relative.parent, item.relative.stem)
        items.append(Item(item, str(name), shared=stem in seen))
        seen.add(stem)
    return items


class Batch:
    """One run of a batch into an output folder.

    Args:
        folder: the output folder (made if missing).
        items: the inputs and their planned names.
        recipe: the settings; its ``seed`` None means a fresh seed per input.
        force: render every input again, even those already done.
        overwrite: replace an existing file that is not this batch's result.
        report: called with a ``BatchEvent`` as the batch goes.
        manifest: the folder's manifest, if already open.
    """

    def __init__(self, folder: Path, items: Sequence[Item], recipe: Mapping[str, Any], *, force: bool = False,
                 overwrite: bool = False, report: Report | None = None, manifest: Manifest | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.items = list(items)
        self.recipe = dict(recipe)
        self.force = force
        self.overwrite = overwrite
        self.report = report or (lambda _event: None)
        self.manifest = manifest or Manifest.open(self.folder)
        self._since = 0 if not force else len(self.manifest.records)
        self._by_key: dict[str, list[dict[str, Any]]] = {}
        self._indexed = 0
        self._input_hashes: dict[str, str | None] = {}
        self._output_hashes: dict[tuple[Path, int, int], str] = {}
        self._existing: dict[str, Path] = {}
        self.summary = Summary(len(self.items), folder=self.folder)
        self._start = time.monotonic()

    def todo(self) -> list[Item]:
        """The items without a finished result (recognising results whose record was lost)."""
        left = []
        for item in self.items:
            existing = self._done_output(item) or self._adopted(item)
            if existing is None:
                left.append(item)
            else:
                self._existing[item.key] = existing
        return left

    def run(self, executor: Executor) -> Summary:
        """Render what is left through ``executor``; returns the summary."""
        left = self.todo()
        self.summary.done_before = len(self.items) - len(left)
        waiting = {item.key for item in left}
        self.summary.existing = [path for key, path in self._existing.items() if key not in waiting]
        self._emit("start")
        held: dict[str, tuple[Claim, Item, str]] = {}
        try:
            for outcome in executor.map(self._jobs(left, held)):
                claim, item, input_hash = held.pop(outcome.key)
                with claim:
                    self._finish(item, input_hash, outcome)
        finally:
            for claim, _, _ in held.values():
                claim.release()
            self.summary.seconds = time.monotonic() - self._start
        return self.summary

    # -- what is done -------------------------------------------------------------------------

    def _done(self, item: Item) -> bool:
        return self._done_output(item) is not None

    def _done_output(self, item: Item) -> Path | None:
        """The finished result of this input and these settings, if the manifest has one."""
        input_hash = self._input_hash(item)
        for record in self._records(item.key) if input_hash is not None else ():
            if self._matches(record, input_hash):
                return self.folder / str(record.get("output", ""))
        return None

    def _records(self, key: str) -> list[dict[str, Any]]:
        """The key's records (those of this run only, with ``force``), indexed as the manifest grows."""
        records = self.manifest.records
        for position in range(self._indexed, len(records)):
            if position >= self._since:
                self._by_key.setdefault(str(records[position].get("key")), []).append(records[position])
        self._indexed = len(records)
        return self._by_key.get(key, [])

    def _matches(self, record: Mapping[str, Any], input_hash: str) -> bool:
        """A finished record of this input and these settings whose file is intact."""
        if record.get("status") != "done" or record.get("input_sha256") != input_hash:
            return False
        recorded = (record.get("settings") or {}).get("recipe") or {}
        if not same_recipe(recorded, self.recipe, self.recipe.get("seed") is not None):
            return False
        output = self.folder / str(record.get("output", ""))
        return output.is_file() and self._output_hash(output) == record.get("output_sha256")

    def _adopted(self, item: Item) -> Path | None:
        """Record a result file left without its record (killed between the two writes); its path, or None."""
        path = self.folder / item.key
        input_hash = self._input_hash(item)
        if self.force or input_hash is None or not path.is_file():
            return None
        metadata = same_result(path, input_hash, self.recipe)
        if metadata is None:
            return None
        self._record(item, input_hash, status="done", output=item.key, output_sha256=self._output_hash(path),
                     settings=metadata, seed=metadata.get("seed"), seconds=None, worker=None, adopted=True)
        return path

    # -- jobs ---------------------------------------------------------------------------------

    def _jobs(self, left: Iterable[Item], held: dict) -> Iterator[Job]:
        """Claim, check again, read and hand out each item still to render."""
        for item in left:
            claim = try_claim(self.folder, item.key)
            if claim is None:
                self._elsewhere(item)
                continue
            self.manifest.refresh()
            if self._done(item):
                claim.release()
                self._elsewhere(item)
                continue
            job = self._job(item)
            if job is None:
                claim.release()
                continue
            held[item.key] = (claim, item, hashlib.sha256(job.data).hexdigest())
            self._emit("rendering", item)
            yield job

    def _job(self, item: Item) -> Job | None:
        """The item's job, or None (reported as failed) when its file can't be read."""
        try:
            data = item.input.path.read_bytes()
        except FileNotFoundError:
            self._fail(item, None, f"{item.input.path}: no such file")
            return None
        except OSError as exc:
            self._fail(item, None, f"{item.input.path}: cannot read ({exc.strerror or exc})")
            return None
        seed = self.recipe.get("seed")
        settings = {**self.recipe, "seed": secrets.randbelow(2**31) if seed is None else seed}
        return Job(item.key, str(item.input.path.resolve()), data, settings)

    # -- results ------------------------------------------------------------------------------

    def _finish(self, item: Item, input_hash: str, outcome: Outcome) -> None:
        if not outcome.ok or outcome.data is None:
            reason = (outcome.error or "no result").replace(str(item.input.path.resolve()), str(item.input.path))
            self._fail(item, input_hash, reason, outcome)
            return
        try:
            path = self._output_path(item)
        except DreamerError as exc:  # its sub-folder can't be made
            self._fail(item, input_hash, str(exc), outcome)
            return
        try:
            for suffix, data in outcome.files.items():  # first, so a result's file means its side files are there
                write_atomically(path.with_name(path.stem + suffix), data)
            write_atomically(path, outcome.data)
        except OSError as exc:
            self._fail(item, input_hash, f"{path}: cannot write ({exc.strerror or exc})", outcome)
            return
        self._record(item, input_hash, status="done", output=path.relative_to(self.folder).as_posix(),
                     output_sha256=hashlib.sha256(outcome.data).hexdigest(),
                     settings=outcome.extra.get("metadata"), seed=outcome.extra.get("seed"),
                     seconds=round(outcome.seconds, 3), worker=outcome.worker)
        self.summary.rendered += 1
        self.summary.written.append(path)
        self._emit("finished", item, f"{path}{self._renamed(item, path)}")

    def _renamed(self, item: Item, path: Path) -> str:
        """Why the result is not at the name its input alone would give ("" when it is)."""
        planned = self.folder / item.key
        if path != planned:
            return f" ({planned} exists; --overwrite replaces it)"
        return " (its name is taken by another input of this batch)" if item.shared else ""

    def _output_path(self, item: Item) -> Path:
        """The planned path, or a free ``_N`` name beside it (not planned for another input) if a
        file not ours is there."""
        planned = self.folder / item.key
        ensure_folder(planned.parent)
        remove_stale_parts(planned)
        if self.overwrite or not planned.exists():
            return planned
        others = {other.key for other in self.items}
        return free_name(planned, lambda candidate: candidate == planned or candidate.exists()
                         or candidate.relative_to(self.folder).as_posix() in others)

    def _fail(self, item: Item, input_hash: str | None, reason: str, outcome: Outcome | None = None) -> None:
        name = str(item.input.path)
        reason = reason if reason.startswith(name) else f"{name}: {reason}"
        self._record(item, input_hash, status="failed", error=reason,
                     seconds=None if outcome is None else round(outcome.seconds, 3),
                     worker=None if outcome is None else outcome.worker)
        self.summary.failed.append((str(item.input.path), reason))
        self._emit("failed", item, reason)

    def _record(self, item: Item, input_hash: str | None, **fields: Any) -> None:
        self.manifest.append(record_for(item.key, str(item.input.path), input_hash or "", **fields))

    def _elsewhere(self, item: Item) -> None:
        self.summary.elsewhere += 1
        self._emit("elsewhere", item)

    # -- hashes and progress ------------------------------------------------------------------

    def _input_hash(self, item: Item) -> str | None:
        key = str(item.input.path)
        if key not in self._input_hashes:
            try:
                self._input_hashes[key] = file_digest(item.input.path)
            except OSError:
                self._input_hashes[key] = None
        return self._input_hashes[key]

    def _output_hash(self, path: Path) -> str:
        stat = path.stat()
        key = (path, stat.st_size, stat.st_mtime_ns)
        if key not in self._output_hashes:
            self._output_hashes[key] = file_digest(path)
        return self._output_hashes[key]

    def _emit(self, kind: str, item: Item | None = None, message: str = "") -> None:
        summary = self.summary
        done = summary.done_before + summary.rendered + summary.elsewhere + len(summary.failed)
        elapsed = time.monotonic() - self._start
        finished_here = summary.rendered + len(summary.failed)
        left = summary.total - done
        eta = elapsed / finished_here * left if finished_here else None
        name = "" if item is None else str(item.input.path)
        self.report(BatchEvent(kind, done, summary.total, name, message, elapsed, eta))


def recorded_labels(manifest: Manifest, recipe: Mapping[str, Any]) -> tuple[str, str] | None:
    """The model and objective names (``result_names``'s labels) of the latest finished result of
    ``recipe`` in the manifest, or None: so a batch can be named without loading the model."""
    for record in reversed(manifest.records):
        settings = record.get("settings") or {}
        if (record.get("status") == "done" and settings.get("model") and settings.get("objective")
                and same_recipe(settings.get("recipe") or {}, recipe, recipe.get("seed") is not None)):
            return str(settings["model"]), str(settings["objective"])
    return None


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file that is flushed to disk, then renamed."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())


def remove_stale_parts(path: Path) -> None:
    """Remove temporary files a killed writer of ``path`` left (``atomic_path``'s ``.STEM.XXXXXXXX.part.png``)."""
    pattern = re.compile(rf"\.{re.escape(path.stem)}\.[A-Za-z0-9_]{{8}}\.part{re.escape(path.suffix)}")
    with contextlib.suppress(OSError):
        for entry in path.parent.iterdir():
            if pattern.fullmatch(entry.name):
                with contextlib.suppress(OSError):
                    entry.unlink()
