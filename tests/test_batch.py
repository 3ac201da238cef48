"""The resumable batch: inputs, names, manifest, claims, resume, kills and two processes at once."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
from PIL import Image
from tiny_models import result_files, save_photo

from dreamer.batch import MANIFEST_NAME, Batch, Manifest, find_inputs, plan_items, result_names
from dreamer.batch.claims import try_claim
from dreamer.batch.inputs import Input
from dreamer.batch.worker import build_worker
from dreamer.cli import main
from dreamer.executors import Job, LocalExecutor, Outcome
from dreamer.images import encode_image, read_metadata

ROOT = Path(__file__).resolve().parents[1]


def photo_tree(root: Path, count: int = 20, size=(48, 40)) -> list[Path]:
    """``count`` images spread over root, root/a and root/a/b, each different, plus a non-image."""
    paths = []
    for i in range(count):
        folder = root / ["", "a", "a/b"][i % 3]
        folder.mkdir(parents=True, exist_ok=True)
        array = (np.random.default_rng(i).random((size[1], size[0], 3)) * 255).astype(np.uint8)
        path = folder / f"img{i:02}.{'png' if i % 2 else 'jpg'}"
        Image.fromarray(array).save(path)
        paths.append(path)
    (root / "a" / "notes.txt").write_text("not an image")
    return paths


def cli_args(model_file, *extra, iterations=2):
    return ["--model", str(model_file), "--preprocess", "unit", "-i", str(iterations), "--octaves", "2",
            "--seed", "5", *extra]


def done_records(folder: Path) -> list[dict]:
    return [r for r in Manifest.open(folder).records if r.get("status") == "done"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def all_pngs(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png") if not p.name.startswith("."))


def assert_outputs_match_manifest(folder: Path, expected: int) -> None:
    """Every result is on disk with the hash of its key's latest record, and there is nothing else."""
    latest = {r["key"]: r for r in done_records(folder)}
    assert sorted(r["output"] for r in latest.values()) == all_pngs(folder)
    assert len(latest) == expected
    for record in latest.values():
        assert sha256(folder / record["output"]) == record["output_sha256"]


# -- inputs and names ---------------------------------------------------------------------------


def test_inputs_from_folders_globs_and_files_are_sniffed_by_content(tmp_path):
    photo_tree(tmp_path / "in", 6)
    (tmp_path / "in" / "fake.jpg").write_text("text with an image's extension")
    (tmp_path / "in" / ".hidden.png").write_bytes((tmp_path / "in" / "img03.png").read_bytes())
    Image.new("RGB", (8, 8)).save(tmp_path / "in" / "no_extension", format="PNG")
    flat = find_inputs([str(tmp_path / "in")])
    assert sorted(i.relative.as_posix() for i in flat.inputs) == ["img00.jpg", "img03.png", "no_extension"]
    assert flat.skipped == 1  # fake.jpg (notes.txt is in a sub-folder)
    deep = find_inputs([str(tmp_path / "in")], recursive=True)
    assert sorted(i.relative.as_posix() for i in deep.inputs) == [
        "a/b/img02.jpg", "a/b/img05.png", "a/img01.png", "a/img04.jpg", "img00.jpg", "img03.png", "no_extension"]
    assert deep.skipped == 2
    globbed = find_inputs([str(tmp_path / "in" / "**" / "*.png")])
    assert sorted(i.relative.as_posix() for i in globbed.inputs) == ["a/b/img05.png", "a/img01.png", "img03.png"]


def test_output_folder_inside_the_input_folder_is_not_searched(tmp_path):
    photo_tree(tmp_path, 3)
    (tmp_path / "out").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "out" / "old_result.png")
    found = find_inputs([str(tmp_path)], recursive=True, exclude=tmp_path / "out")
    assert "out/old_result.png" not in [i.relative.as_posix() for i in found.inputs]


def test_names_mirror_folders_and_never_collide():
    inputs = [Input(Path(p), PurePosixPath(r)) for p, r in
              [("x/a.jpg", "a.jpg"), ("x/a.png", "a.png"), ("y/s/a.jpg", "s/a.jpg"), ("z/a.jpg", "a.jpg")]]
    names = [n.as_posix() for n in result_names(inputs, "my model.keras", "conv3:1")]
    assert names == ["a_my-model_conv3-1.png", "a_my-model_conv3-1_1.png", "s/a_my-model_conv3-1.png",
                     "a_my-model_conv3-1_2.png"]


# -- manifest and claims ------------------------------------------------------------------------


def test_torn_last_line_is_ignored_then_repaired(tmp_path):
    manifest = Manifest.open(tmp_path)
    manifest.append({"key": "a", "status": "done"})
    with open(tmp_path / MANIFEST_NAME, "ab") as handle:
        handle.write(b'{"key": "b", "stat')  # a writer killed in the middle of its line
    reread = Manifest.open(tmp_path)
    assert [r["key"] for r in reread.records] == ["a"] and reread.torn
    reread.append({"key": "c", "status": "done"})
    lines = (tmp_path / MANIFEST_NAME).read_text().splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["a", "c"]


def test_a_manifest_sees_what_another_appended(tmp_path):
    first, second = Manifest.open(tmp_path), Manifest.open(tmp_path)
    first.append({"key": "a"})
    assert [r["key"] for r in second.refresh()] == ["a"]
    second.append({"key": "b"})
    assert [r["key"] for r in first.refresh()] == ["b"]


def test_a_claim_excludes_others_until_released_or_its_process_dies(tmp_path):
    claim = try_claim(tmp_path, "a.png")
    assert claim is not None and try_claim(tmp_path, "a.png") is None
    assert try_claim(tmp_path, "b.png") is not None
    claim.release()
    assert try_claim(tmp_path, "a.png") is not None
    code = ("import sys, os; from dreamer.batch.claims import try_claim;"
            f"c = try_claim({str(tmp_path)!r}, 'k.png'); print('held', flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "held"
        assert try_claim(tmp_path, "k.png") is None
        holder.send_signal(signal.SIGKILL)
        holder.wait(30)
        assert try_claim(tmp_path, "k.png") is not None  # the kernel released the dead holder's lock
    finally:
        holder.kill()


# -- the driver, with a fake worker --------------------------------------------------------------


def _slow_copy_worker(delay: float):
    def work(job: Job) -> Outcome:
        time.sleep(delay)
        metadata = {"recipe": dict(job.settings), "input_sha256": hashlib.sha256(job.data).hexdigest()}
        data = encode_image(Image.open(io.BytesIO(job.data)), "PNG", metadata)
        return Outcome(job.key, data=data, extra={"metadata": metadata, "seed": job.settings["seed"]})

    return work


def _batch(tmp_path, recipe=None, **options):
    found = find_inputs([str(tmp_path / "in")], recursive=True)
    names = result_names(found.inputs, "m", "o")
    return Batch(tmp_path / "out", plan_items(found.inputs, names), recipe or {"seed": 1, "iterations": 2},
                 **options)


def test_two_batches_at_once_render_each_result_once(tmp_path):
    photo_tree(tmp_path / "in", 12)
    summaries = []
    both_started = threading.Barrier(2)

    def worker():  # each batch's first job waits for the other's, so neither can take all 12 under load
        work, started = _slow_copy_worker(0.02), []

        def once_both_started(job: Job) -> Outcome:
            if not started:
                started.append(job.key)
                both_started.wait(timeout=60)
            return work(job)

        return once_both_started

    def run():
        summaries.append(_batch(tmp_path).run(LocalExecutor(worker)))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(s.rendered for s in summaries) == 12
    assert all(s.rendered > 0 for s in summaries)  # both really worked, side by side
    assert_outputs_match_manifest(tmp_path / "out", 12)


def test_a_result_without_its_record_is_recognised_not_rendered_again(tmp_path):
    photo_tree(tmp_path / "in", 3)
    _batch(tmp_path).run(LocalExecutor(lambda: _slow_copy_worker(0)))
    lines = (tmp_path / "out" / MANIFEST_NAME).read_text().splitlines()
    (tmp_path / "out" / MANIFEST_NAME).write_text("\n".join(lines[:-1]) + "\n")  # killed before the record
    calls = []
    batch = _batch(tmp_path)
    summary = batch.run(LocalExecutor(lambda: calls.append(1) or _slow_copy_worker(0)))
    assert summary.done_before == 3 and summary.rendered == 0 and calls == []


def test_changed_input_or_settings_render_again_and_force_renders_all(tmp_path):
    paths = photo_tree(tmp_path / "in", 4)
    executor = LocalExecutor(lambda: _slow_copy_worker(0))
    assert _batch(tmp_path).run(executor).rendered == 4
    assert _batch(tmp_path).run(executor).rendered == 0
    Image.new("RGB", (20, 20), "red").save(paths[0])
    summary = _batch(tmp_path).run(executor)
    assert (summary.rendered, summary.done_before) == (1, 3)
    summary = _batch(tmp_path, {"seed": 1, "iterations": 3}).run(executor)
    assert summary.rendered == 4
    assert _batch(tmp_path, force=True).run(executor).rendered == 4
    assert len(all_pngs(tmp_path / "out")) == 4 + 1 + 4 + 4  # nothing overwritten without --overwrite: _N names
    assert _batch(tmp_path, force=True, overwrite=True).run(executor).rendered == 4
    assert len(all_pngs(tmp_path / "out")) == 13


# -- the real worker ----------------------------------------------------------------------------


def test_worker_factory_pickles_and_renders_like_the_cli(runner, model_file, workdir):
    save_photo(workdir / "a.png")
    assert runner.invoke(main, cli_args(model_file, "a.png", "-o", "out/")).exit_code == 0
    record = done_records(workdir / "out")[0]
    factory = pickle.loads(pickle.dumps(functools.partial(build_worker, record["settings"]["recipe"])))
    outcome = factory()(Job("k", str(workdir / "a.png"), (workdir / "a.png").read_bytes(),
                            record["settings"]["recipe"]))
    assert outcome.ok and hashlib.sha256(outcome.data).hexdigest() == record["output_sha256"]


def test_cli_batch_of_20_in_sub_folders_resumes_and_says_so(runner, model_file, workdir):
    photo_tree(workdir / "photos", 20)
    result = runner.invoke(main, cli_args(model_file, "photos", "-r", "-o", "out"))
    assert result.exit_code == 0, result.output
    assert "skipped 1 file(s) that are not images" in result.output
    assert "20 to render" in result.output and "rendered 20" in result.output
    assert_outputs_match_manifest(workdir / "out", 20)
    assert "a/b/img02_tiny_conv3.png" in all_pngs(workdir / "out")
    for path in list((workdir / "out").rglob("img1*.png"))[:3]:
        path.unlink()
    result = runner.invoke(main, cli_args(model_file, "photos", "-r", "-o", "out"))
    assert "17 done, 3 to go" in result.output and "rendered 3" in result.output
    assert_outputs_match_manifest(workdir / "out", 20)
    result = runner.invoke(main, cli_args(model_file, "photos", "-r", "-o", "out"))
    assert "already done (same inputs and settings): all 20 results, in out/" in result.output
    assert "--force renders again" in result.output and "to go" not in result.output


def test_a_rerun_with_every_result_done_loads_no_model(runner, model_file, workdir):
    photo_tree(workdir / "photos", 3)
    args = cli_args(model_file, "photos", "-r", "-o", "out")
    assert runner.invoke(main, args).exit_code == 0
    code = ("import sys; from dreamer.cli import main; main(sys.argv[1:], standalone_mode=False); "
            "print('tensorflow loaded' if 'tensorflow' in sys.modules else 'no tensorflow')")
    rerun = subprocess.run([sys.executable, "-c", code, *args], cwd=workdir, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert "already done (same inputs and settings): all 3 results" in rerun.stderr
    assert rerun.stdout.strip() == "no tensorflow"


def _start_batch(workdir: Path, model_file: Path, iterations: int) -> subprocess.Popen:
    args = [sys.executable, "-m", "dreamer.cli", *cli_args(model_file, "photos", "-r", "-o", "out",
                                                            iterations=iterations)]
    return subprocess.Popen(args, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"})


@pytest.mark.slow
def test_sigkill_mid_batch_then_the_same_command_finishes_only_the_rest(model_file, workdir):
    photo_tree(workdir / "photos", 20, size=(96, 80))
    process = _start_batch(workdir, model_file, iterations=25)
    deadline = time.monotonic() + 120
    while len(done_records(workdir / "out")) < 4 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    finished = len(done_records(workdir / "out"))
    assert 4 <= finished < 20, "the kill should land in the middle of the batch"
    recovered = len(all_pngs(workdir / "out")) - finished  # 1 if killed between a result and its record
    assert recovered in (0, 1)
    rerun = _start_batch(workdir, model_file, iterations=25)
    output, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, output
    assert f"{finished + recovered} done, {20 - finished - recovered} to go" in output
    assert f"rendered {20 - finished - recovered}" in output
    assert_outputs_match_manifest(workdir / "out", 20)
    assert not [p for p in (workdir / "out").rglob(".*.part.png")]


def test_two_processes_on_one_folder_produce_each_result_once(model_file, workdir):
    photo_tree(workdir / "photos", 20, size=(96, 80))
    processes = [_start_batch(workdir, model_file, iterations=10) for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert_outputs_match_manifest(workdir / "out", 20)
    rendered = [int(out.split("rendered ")[-1].split(",")[0]) for out in outputs]
    assert sum(rendered) == 20, outputs
    print("rendered by each process:", rendered)


@pytest.mark.parametrize("args, message", [
    (["nothing_here/"], "no images to render"),
    (["photos/*.tif"], "no file matches"),
])
def test_inputs_that_name_nothing_are_one_line_errors(runner, model_file, workdir, args, message):
    photo_tree(workdir / "photos", 2)
    (workdir / "nothing_here").mkdir()
    result = runner.invoke(main, cli_args(model_file, *args, "-o", "out"))
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_result_carries_its_recipe_and_input_hash(runner, model_file, workdir):
    save_photo(workdir / "a.png")
    assert runner.invoke(main, cli_args(model_file, "a.png", "-o", "out/")).exit_code == 0
    meta = read_metadata(workdir / "out" / "a_tiny_conv3.png")
    assert meta["input_sha256"] == sha256(workdir / "a.png")
    assert meta["recipe"]["model"] == str(model_file) and meta["recipe"]["seed"] == 5
    assert result_files(workdir / "out") == ["a_tiny_conv3.png"]


def test_run_batch_takes_any_executor_built_from_the_recipe(model_file, workdir):
    from dreamer.cli.batch import run_batch
    from dreamer.cli.shared import BatchFlags, DreamRequest

    photo_tree(workdir / "photos", 3)
    built = []

    def executor_for(recipe):
        built.append(recipe)
        return LocalExecutor(functools.partial(build_worker, recipe))

    run_batch(DreamRequest(("photos",), "out", str(model_file), {"layers": ("conv3",), "preprocess": "unit"},
                           {"iterations": 1, "octaves": 1, "seed": 3}, None, None,
                           BatchFlags(recursive=True, quiet=True)), executor_for)
    assert len(built) == 1 and built[0]["seed"] == 3 and built[0]["model"] == str(model_file)
    assert_outputs_match_manifest(workdir / "out", 3)
