"""The ``dream`` command through click's CliRunner, on a tiny saved model."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from dreamer.cli import main
from dreamer.images import read_metadata

from conftest import save_photo

def dream_args(model_file, *extra):
    return ["--model", str(model_file), "--preprocess", "unit", "-i", "2", "--octaves", "2",
            "--seed", "3", *extra]


def test_help_lists_options_and_examples(runner):
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for text in ("--layer", "--iterations", "--octaves", "--octave-scale", "--step-size", "--jitter",
                 "--tile-size", "--max-size", "--seed", "--output", "--overwrite", "--quiet", "--model",
                 "Examples:", "default:", "layers", "classify"):
        assert text in result.output


def test_help_is_fast_and_does_not_import_tensorflow():
    code = "import sys; from dreamer.cli import main; print('tensorflow' in sys.modules)"
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert time.perf_counter() - start < 5  # generous: the budget itself is checked by the benchmark


def test_dream_writes_png_with_settings(runner, model_file, tmp_path):
    save_photo(tmp_path / "cat.jpg")
    result = runner.invoke(main, dream_args(model_file, "--layer", "conv2", "cat.jpg"))
    assert result.exit_code == 0, result.output
    out = tmp_path / "outputs" / "cat_tiny_conv2.png"
    assert out.exists()
    meta = read_metadata(out)
    assert meta["layers"] == {"conv2": 1.0}
    assert meta["seed"] == 3 and meta["iterations"] == 2 and meta["octaves"] == 2
    assert meta["input"] == str(tmp_path / "cat.jpg") and len(meta["input_sha256"]) == 64
    assert "dreamer_version" in meta
    assert Image.open(out).size == (64, 48)


def test_same_seed_same_pixels_from_cli(runner, model_file, tmp_path):
    save_photo(tmp_path / "a.png")
    for name in ("one.png", "two.png"):
        assert runner.invoke(main, dream_args(model_file, "a.png", "-o", name)).exit_code == 0
    assert np.array_equal(np.asarray(Image.open("one.png")), np.asarray(Image.open("two.png")))


def test_existing_output_is_not_overwritten(runner, model_file, tmp_path):
    save_photo(tmp_path / "a.png")
    Image.new("RGB", (5, 5)).save(tmp_path / "out.png")
    result = runner.invoke(main, dream_args(model_file, "a.png", "-o", "out.png"))
    assert result.exit_code == 0
    assert Image.open(tmp_path / "out.png").size == (5, 5)
    assert (tmp_path / "out_1.png").exists()
    assert "out_1.png" in result.output
    result = runner.invoke(main, dream_args(model_file, "a.png", "-o", "out.png", "--overwrite"))
    assert result.exit_code == 0 and Image.open(tmp_path / "out.png").size == (64, 48)


def test_output_equal_to_input_is_refused(runner, model_file, tmp_path):
    save_photo(tmp_path / "a.png")
    before = (tmp_path / "a.png").read_bytes()
    result = runner.invoke(main, dream_args(model_file, "a.png", "-o", "a.png", "--overwrite"))
    assert result.exit_code == 2
    assert "overwrite the input" in result.output
    assert (tmp_path / "a.png").read_bytes() == before


def test_several_inputs_into_a_folder_and_a_failure_does_not_stop_the_batch(runner, model_file, tmp_path):
    save_photo(tmp_path / "a.png")
    (tmp_path / "broken.jpg").write_text("not an image")
    save_photo(tmp_path / "c.webp")
    result = runner.invoke(main, dream_args(model_file, "a.png", "broken.jpg", "c.webp", "-o", "results"))
    assert result.exit_code == 1
    assert "broken.jpg" in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == [
        "a_tiny_conv3.png", "c_tiny_conv3.png"]


def test_same_stem_twice_gets_two_names(runner, model_file, tmp_path):
    (tmp_path / "x").mkdir()
    save_photo(tmp_path / "a.png")
    save_photo(tmp_path / "x" / "a.png")
    result = runner.invoke(main, dream_args(model_file, "a.png", "x/a.png"))
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "outputs").iterdir()) == [
        "a_tiny_conv3.png", "a_tiny_conv3_1.png"]


@pytest.mark.parametrize("ext, fmt", [(".jpg", "JPEG"), (".webp", "WEBP"), (".png", "PNG")])
def test_output_format_follows_extension(runner, model_file, tmp_path, ext, fmt):
    save_photo(tmp_path / "a.png")
    assert runner.invoke(main, dream_args(model_file, "a.png", "-o", "r" + ext)).exit_code == 0
    assert Image.open(tmp_path / ("r" + ext)).format == fmt


def test_rgba_keeps_alpha_in_png(runner, model_file, tmp_path):
    array = np.zeros((40, 40, 4), np.uint8)
    array[..., :3] = 120
    array[:, 20:, 3] = 255
    Image.fromarray(array, "RGBA").save(tmp_path / "t.png")
    assert runner.invoke(main, dream_args(model_file, "t.png", "-o", "r.png")).exit_code == 0
    out = np.asarray(Image.open(tmp_path / "r.png"))
    assert out.shape == (40, 40, 4)
    np.testing.assert_array_equal(out[..., 3], array[..., 3])


def test_max_size_downscales(runner, model_file, tmp_path):
    save_photo(tmp_path / "a.png", size=(120, 60))
    assert runner.invoke(main, dream_args(model_file, "a.png", "--max-size", "60", "-o", "r.png")).exit_code == 0
    assert Image.open(tmp_path / "r.png").size == (60, 30)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--layer", "conv9"], "unknown layer 'conv9'"),
        (["--iterations", "0"], "Invalid value"),
        (["--octave-scale", "1"], "not a number above 1"),
        (["--octave-scale", "nan"], "not a number above 1"),
        (["--step-size", "-1"], "not a number above 0"),
        (["-o", "result.xyz"], "cannot write '.xyz'"),
        (["--preprocess", "weird"], "unknown preprocessing"),
    ],
)
def test_bad_options_are_one_line_errors(runner, model_file, tmp_path, args, message):
    save_photo(tmp_path / "a.png")
    result = runner.invoke(main, dream_args(model_file, *args, "a.png"))
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").iterdir())


def test_unknown_layer_names_the_closest(runner, model_file, tmp_path):
    save_photo(tmp_path / "a.png")
    result = runner.invoke(main, dream_args(model_file, "--layer", "conv", "a.png"))
    assert result.exit_code == 2 and "closest: conv3, conv2, conv1" in result.output


def test_unknown_model_is_a_clear_error(runner, tmp_path):
    save_photo(tmp_path / "a.png")
    result = runner.invoke(main, ["--model", "alexnet9000", "a.png"])
    assert result.exit_code == 2
    assert "unknown model 'alexnet9000'" in result.output and "efficientnet-lite0" in result.output


def test_layers_lists_the_model(runner, model_file):
    result = runner.invoke(main, ["layers", "--model", str(model_file)])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert [l.split()[-3] for l in lines if "conv" in l and "x" in l] == ["conv1", "conv2", "conv3"]
    assert "* conv3" in result.output  # the default: two thirds of the way in
    assert "?x?x16" in result.output


def test_quiet_prints_nothing(runner, model_file, tmp_path):
    save_photo(tmp_path / "a.png")
    result = runner.invoke(main, dream_args(model_file, "--quiet", "a.png"))
    assert result.exit_code == 0 and result.output == ""


def test_progress_and_messages_go_to_stderr(model_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save_photo(tmp_path / "a.png")
    result = CliRunner().invoke(main, dream_args(model_file, "a.png"))
    assert result.exit_code == 0
    assert result.stdout == "" and "wrote" in result.stderr
