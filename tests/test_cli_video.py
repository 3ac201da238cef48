"""``dream zoom`` and ``dream video`` from the command line: files, audio, errors, and resume after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from video_clips import panning_frames, write_clip

from dreamer.cli import main
from dreamer.video import media
from dreamer.video.state import FramesFolder

REPO = Path(__file__).resolve().parents[1]


def tiny_args(model_file, *extra):
    return ["--model", str(model_file), "--preprocess", "unit", "--layer", "conv3", "-i", "2", "--octaves", "1",
            "--jitter", "4", "--seed", "5", *extra]


def test_video_keeps_audio_rate_and_size(runner, model_file, workdir):
    write_clip(workdir / "clip.mp4", panning_frames(frames=8, size=(64, 48)), fps=10, audio=True)
    result = runner.invoke(main, ["video", "clip.mp4", *tiny_args(model_file), "-o", "out/dreamed.mp4"])
    assert result.exit_code == 0, result.output
    info = media.probe(workdir / "out" / "dreamed.mp4")
    assert info.has_audio and info.size == (64, 48) and info.frames == 8 and info.fps == 10
    assert "flicker" in result.output
    assert not (workdir / "out" / "dreamed_frames").exists()  # encoded, so the state is gone


def test_video_without_audio_and_max_size(runner, model_file, workdir):
    write_clip(workdir / "clip.mp4", panning_frames(frames=4, size=(96, 64)), fps=8)
    result = runner.invoke(main, ["video", "clip.mp4", *tiny_args(model_file), "--max-size", "48", "--no-flow",
                                  "--max-frames", "3", "-o", "small.webp"])
    assert result.exit_code == 0, result.output
    info = media.probe(workdir / "small.webp")
    assert info.size == (48, 32) and info.frames == 3


def test_zoom_from_noise_to_gif_and_objective_schedule(runner, model_file, workdir):
    args = ["zoom", *tiny_args(model_file), "--size", "48x40", "--frames", "4", "--layer-from", "2", "conv2",
            "-o", "z.gif", "--keep-frames"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert media.probe(workdir / "z.gif").frames == 4
    facts = list(FramesFolder(workdir / "z_frames").facts(4))
    assert [f["objective"] for f in facts] == ["conv3", "conv3", "conv2", "conv2"]
    assert len({f["seed"] for f in facts}) == 4


def test_zoom_to_frames_folder_only(runner, model_file, workdir):
    result = runner.invoke(main, ["zoom", "--size", "40x40", "--frames", "2", *tiny_args(model_file), "-o", "fr/"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (workdir / "fr").iterdir()) == [
        "dreamer-frames.json", "frame_000000.png", "frame_000001.png"]


def test_existing_video_is_not_overwritten(runner, model_file, workdir):
    (workdir / "z.mp4").write_bytes(b"mine")
    result = runner.invoke(main, ["zoom", "--size", "40x40", "--frames", "2", *tiny_args(model_file), "-o", "z.mp4"])
    assert result.exit_code == 0, result.output
    assert (workdir / "z.mp4").read_bytes() == b"mine" and media.probe(workdir / "z_1.mp4").frames == 2


def test_other_settings_in_frames_folder_are_refused(runner, model_file, workdir):
    base = ["zoom", "--size", "40x40", "--frames", "2", *tiny_args(model_file), "-o", "fr/"]
    assert runner.invoke(main, base).exit_code == 0
    result = runner.invoke(main, [*base, "--zoom", "1.2"])
    assert result.exit_code == 2 and "other settings" in result.output and "Traceback" not in result.output
    assert runner.invoke(main, [*base, "--zoom", "1.2", "--overwrite"]).exit_code == 0


def test_bad_inputs_are_one_line_errors(runner, model_file, workdir):
    (workdir / "notes.mp4").write_text("not a video")
    result = runner.invoke(main, ["video", "notes.mp4", *tiny_args(model_file)])
    assert result.exit_code != 0 and "notes.mp4" in result.output and "Traceback" not in result.output
    result = runner.invoke(main, ["zoom", "--size", "40x40", *tiny_args(model_file), "-o", "z.avi"])
    assert result.exit_code == 2 and "z.avi" in result.output
    result = runner.invoke(main, ["zoom", "--size", "40x40", "--zoom", "9", *tiny_args(model_file)])
    assert result.exit_code == 2 and "zoom" in result.output
    assert not (workdir / "z.avi").exists()


def run_cli(args, cwd, kill_when=None):
    """Run ``python -m dreamer.cli ARGS`` in a fresh process; SIGKILL it once ``kill_when()`` is true."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "DREAMER_CACHE_DIR": str(cwd / "cache")}
    process = subprocess.Popen([sys.executable, "-m", "dreamer.cli", *args], cwd=cwd, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if kill_when is None:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()[-2000:]
        return
    deadline = time.monotonic() + 300
    while not kill_when() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL


def frames_of(folder: Path, count: int) -> list[np.ndarray]:
    return list(FramesFolder(folder).frames(count))


@pytest.mark.slow
def test_video_resume_after_sigkill_equals_uninterrupted_run(runner, model_file, workdir):
    """Kill a real ``dream video`` process mid-run, run the same command again: the frames of one go."""
    write_clip(workdir / "clip.mp4", panning_frames(frames=24, size=(64, 48)), fps=10)
    args = ["video", "clip.mp4", *tiny_args(model_file)]
    killed = workdir / "killed"
    run_cli([*args, "-o", f"{killed}/"], workdir, kill_when=(killed / "frame_000002.png").exists)
    done = FramesFolder(killed).count()
    assert 2 <= done < 24, f"killed after {done} frames"
    run_cli([*args, "-o", f"{killed}/"], workdir)  # the same command continues
    assert runner.invoke(main, [*args, "-o", "whole/"]).exit_code == 0
    assert all(np.array_equal(a, b) for a, b in zip(frames_of(killed, 24), frames_of(workdir / "whole", 24)))


@pytest.mark.slow
def test_zoom_resume_after_sigkill_equals_uninterrupted_run(runner, model_file, workdir):
    """Kill a real ``dream zoom`` process mid-run, run it again without --seed: the frames of one go."""
    args = ["zoom", "--size", "48x48", "--frames", "16", *tiny_args(model_file)]
    killed = workdir / "killed"
    run_cli([*args, "-o", f"{killed}/"], workdir, kill_when=(killed / "frame_000002.png").exists)
    done = FramesFolder(killed).count()
    assert 2 <= done < 16, f"killed after {done} frames"
    run_cli([a for a in args if a not in ("--seed", "5")] + ["-o", f"{killed}/"], workdir)  # the seed is recorded
    assert runner.invoke(main, [*args, "-o", "whole/"]).exit_code == 0
    assert all(np.array_equal(a, b) for a, b in zip(frames_of(killed, 16), frames_of(workdir / "whole", 16)))


def test_zoom_continues_from_the_last_complete_frame(runner, model_file, workdir):
    """A zoom whose later frames are gone (as after a kill) is finished to the same frames."""
    args = ["zoom", "--size", "48x48", "--frames", "6", *tiny_args(model_file), "-o", "fr/"]
    assert runner.invoke(main, args).exit_code == 0
    whole = frames_of(workdir / "fr", 6)
    for index in (3, 4, 5):
        FramesFolder(workdir / "fr").frame_path(index).unlink()
    result = runner.invoke(main, [a for a in args if a not in ("--seed", "5")])  # the seed is recorded
    assert result.exit_code == 0 and "3 made now" in result.output
    assert all(np.array_equal(a, b) for a, b in zip(frames_of(workdir / "fr", 6), whole))


def test_a_zoom_table_in_a_settings_file_drives_dream_zoom_schedule_included(runner, model_file, workdir):
    (workdir / "look.toml").write_text(
        'iterations = 9\n'  # dream's own key: not read by zoom
        '[zoom]\n'
        f'model = "{model_file}"\npreprocess = "unit"\nlayer = ["conv3"]\nlayer-from = [[2, "conv2"]]\n'
        'iterations = 2\noctaves = 1\njitter = 4\nseed = 5\nsize = "48x40"\nframes = 4\noutput = "z.gif"\n'
        'keep-frames = true\n')
    result = runner.invoke(main, ["zoom", "--config", "look.toml"])
    assert result.exit_code == 0, result.output
    assert media.probe(workdir / "z.gif").frames == 4
    facts = list(FramesFolder(workdir / "z_frames").facts(4))
    assert [f["objective"] for f in facts] == ["conv3", "conv3", "conv2", "conv2"]
    shown = runner.invoke(main, ["zoom", "--config", "look.toml", "--frames", "3", "--show-config"]).output
    rows = {line.split()[0]: line for line in shown.splitlines() if line.strip()}
    assert "2 conv2" in rows["--layer-from"] and "(config look.toml [zoom])" in rows["--layer-from"]
    assert "3" in rows["--frames"] and "(command line)" in rows["--frames"]
    assert " 2 " in rows["--iterations"]


def test_a_bad_key_in_a_zoom_table_is_one_line_naming_the_command(runner, workdir):
    (workdir / "bad.toml").write_text("[zoom]\nfrmaes = 3\n")
    result = runner.invoke(main, ["zoom", "--config", "bad.toml"])
    assert result.exit_code == 2
    assert "bad.toml: 'frmaes' is not a setting of dream zoom (did you mean frames" in result.output
    assert len(result.output.strip().splitlines()) == 1
