"""Moving dreams: the pure stages on tiny arrays, the media round trips, and the loops on a tiny model."""

from __future__ import annotations

import numpy as np
import pytest
from video_clips import panning_frames, texture

from dreamer.errors import DreamerError
from dreamer.video import media
from dreamer.video.flow import backward_flow, flicker, inside, warp
from dreamer.video.render import (
    Coherence,
    carried_iterations,
    frame_dreamer,
    frame_seed,
    to_uint8,
    video_frames,
    zoom_frames,
)
from dreamer.video.schedule import Schedule, ScheduledDreamers, make_schedule
from dreamer.video.state import FramesFolder, settings_changes
from dreamer.video.zoom import ZoomMotion, zoom_step

# --- seeds and schedules -------------------------------------------------------------------------------------

def test_frame_seeds_are_stable_and_distinct():
    seeds = [frame_seed(7, i) for i in range(100)]
    assert seeds == [frame_seed(7, i) for i in range(100)]
    assert len(set(seeds)) == 100
    assert frame_seed(8, 0) != frame_seed(7, 0)
    assert all(0 <= s < 2**31 for s in seeds)


def test_schedule_switches_objective_at_frame():
    schedule = make_schedule(["conv2"], [(3, "conv3"), (5, "conv1"), (5, "conv2")])
    assert [schedule.objective_at(i) for i in (0, 2, 3, 4, 5, 99)] == [
        ("conv2",), ("conv2",), ("conv3",), ("conv3",), ("conv1", "conv2"), ("conv1", "conv2")]
    assert make_schedule([], []).objective_at(10) == ()


@pytest.mark.parametrize("layers, layer_from", [(["a"], [(0, "b")]), ([], [(-1, "b")])])
def test_schedule_refuses_bad_frames(layers, layer_from):
    with pytest.raises(DreamerError):
        make_schedule(layers, layer_from)


def test_scheduled_dreamers_load_the_model_once():
    calls = []

    class Fake:
        adapter = "model"

    def make(spec, adapter):
        calls.append((spec, adapter))
        return Fake()

    dreamers = ScheduledDreamers(Schedule(((0, ("a",)), (2, ("b",)))), make)
    dreamers.prepare()
    dreamers.for_frame(5)
    assert calls == [(("a",), None), (("b",), "model")]


def test_carried_iterations_keep_strength():
    assert carried_iterations(10, 0.7) == 3
    assert carried_iterations(10, 0.0) == 10
    assert carried_iterations(2, 0.95) == 1


# --- zoom and flow on small arrays ---------------------------------------------------------------------------

def test_zoom_step_identity_and_centre():
    image = np.random.default_rng(0).random((6, 8, 3)).astype(np.float32)
    assert np.allclose(zoom_step(image, ZoomMotion(zoom=1.0)), image, atol=1e-6)
    flat = np.zeros((9, 9, 3), np.float32)
    flat[4, 4] = 1.0  # the centre pixel stays at the centre when zooming
    assert zoom_step(flat, ZoomMotion(zoom=1.5))[4, 4, 0] == pytest.approx(1.0)


def test_zoom_step_pans_the_view():
    image = np.zeros((8, 8, 3), np.float32)
    image[:, 4] = 1.0
    moved = zoom_step(image, ZoomMotion(zoom=1.0, pan=(1.0, 0.0)))
    assert moved[:, 3, 0].tolist() == [1.0] * 8  # the view moves right, the picture left


@pytest.mark.parametrize("motion", [dict(zoom=0.1), dict(spin=90.0), dict(pan=(1e6, 0.0)), dict(zoom=float("nan"))])
def test_zoom_motion_refuses_wild_values(motion):
    with pytest.raises(DreamerError):
        ZoomMotion(**motion)


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_flow_finds_a_pan_and_warp_undoes_it(method):
    first, second = panning_frames(frames=2, size=(96, 64), step=3)
    flow = backward_flow(first, second, method)
    middle = flow[16:-16, 16:-16]
    assert np.median(middle[..., 0]) == pytest.approx(3.0, abs=0.3)
    assert np.median(middle[..., 1]) == pytest.approx(0.0, abs=0.3)
    assert flicker(first, second, flow) < 0.25 * np.abs(second.astype(float) - first).mean()
    assert not inside(flow)[:, -1].any()  # the right edge is new: it was not in the first frame


def test_warp_with_zero_flow_is_identity():
    image = np.random.default_rng(1).random((5, 7, 3)).astype(np.float32)
    assert np.allclose(warp(image, np.zeros((5, 7, 2), np.float32)), image)


def test_still_scene_has_no_flicker():
    frame = texture(32, 32)
    assert flicker(frame, frame, np.zeros((32, 32, 2), np.float32)) == 0.0


def test_even_size():
    assert media.even_size(641, 361) == (640, 360)
    assert media.even_size(1920, 1080, 640) == (640, 360)
    assert media.even_size(100, 50, 1000) == (100, 50)


def test_settings_changes_names_the_keys():
    assert settings_changes({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == ["b: 2 -> 3", "c: None -> 4"]


# --- media ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".mp4", ".gif", ".webp"])
def test_video_round_trip(tmp_path, suffix):
    frames = panning_frames(frames=6, size=(64, 48))
    path = tmp_path / f"clip{suffix}"
    media.write_video(iter(frames), path, fps=10)
    info = media.probe(path)
    assert info.size == (64, 48) and info.frames == 6 and not info.has_audio
    back = list(media.read_frames(path))
    assert len(back) == 6 and back[0].shape == (48, 64, 3)
    assert np.abs(back[3].astype(float) - frames[3]).mean() < 12  # lossy formats stay close
    assert not list(tmp_path.glob(".*part*"))


def test_unknown_video_format_is_refused(tmp_path):
    with pytest.raises(DreamerError, match="can't write .avi"):
        media.write_video(iter(panning_frames(2)), tmp_path / "x.avi", fps=10)
    assert not list(tmp_path.iterdir())


def test_probe_refuses_a_non_video(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(DreamerError, match="notes.mp4"):
        media.probe(bad)


# --- the loops on a tiny model -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_dreamer():
    from tiny_models import tiny_conv_model

    from dreamer.api import Dreamer

    return Dreamer(tiny_conv_model(), "conv3", preprocess="unit", precision="float32")


def tiny_config(**changes):
    from dreamer.engine import DreamConfig

    return DreamConfig(**{"iterations": 6, "octaves": 1, "jitter": 4, "seed": 3, "step_size": 3.0, **changes})


def test_flow_mode_flickers_far_less_than_naive(tiny_dreamer):
    """The issue's measure: a textured clip panning 2 px a frame, dreamed both ways."""
    frames = panning_frames(frames=10, size=(64, 48), step=2)
    dream = frame_dreamer(lambda _i: tiny_dreamer, tiny_config())
    scores = {}
    for name, coherence in [("naive", Coherence(flow=False)), ("flow", Coherence(blend=0.7, iterations=2))]:
        facts = [f for _i, _frame, f in video_frames(iter(frames), dream, coherence)]
        scores[name] = np.mean([f["flicker"] for f in facts[1:]])
    ratio = scores["flow"] / scores["naive"]
    print(f"flicker naive {scores['naive']:.2f}, flow {scores['flow']:.2f}, ratio {ratio:.2f}")
    assert ratio < 0.5


def test_zoom_frames_resume_equals_uninterrupted(tiny_dreamer, tmp_path):
    first = texture(40, 40).astype(np.float32) / 255
    dream = frame_dreamer(lambda _i: tiny_dreamer, tiny_config(iterations=2))
    whole = [frame for _i, frame, _f in zoom_frames(first, dream, ZoomMotion(1.1), 4)]
    resumed = [frame for _i, frame, _f in zoom_frames(first, dream, ZoomMotion(1.1), 4, done=2, previous=whole[1])]
    assert all(np.array_equal(a, b) for a, b in zip(whole[2:], resumed))
    assert not np.array_equal(whole[0], whole[1])


def test_video_frames_resume_equals_uninterrupted(tiny_dreamer):
    frames = panning_frames(frames=5, size=(48, 40))
    dream = frame_dreamer(lambda _i: tiny_dreamer, tiny_config(iterations=2))
    whole = [out for _i, out, _f in video_frames(iter(frames), dream, Coherence())]
    resumed = [out for _i, out, _f in video_frames(iter(frames), dream, Coherence(), done=3, previous_output=whole[2])]
    assert all(np.array_equal(a, b) for a, b in zip(whole[3:], resumed))


def test_frames_folder_refuses_other_settings(tmp_path):
    folder = FramesFolder(tmp_path / "frames")
    assert folder.start({"seed": 1, "zoom": 1.05}, overwrite=False) == 0
    folder.write(0, to_uint8(np.zeros((4, 4, 3))), {"frame": 0})
    (folder.path / ".frame_000001.abc.part.png").write_bytes(b"half")  # a killed write
    assert folder.start({"seed": 1, "zoom": 1.05}, overwrite=False) == 1
    assert not list(folder.path.glob(".*part*"))
    with pytest.raises(DreamerError, match="other settings.*zoom: 1.05 -> 1.1"):
        folder.start({"seed": 1, "zoom": 1.1}, overwrite=False)
    assert folder.start({"seed": 1, "zoom": 1.1}, overwrite=True) == 0


def test_frames_folder_refuses_a_folder_of_other_files(tmp_path):
    (tmp_path / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(DreamerError, match="holds other files"):
        FramesFolder(tmp_path).start({"seed": 1}, overwrite=False)
