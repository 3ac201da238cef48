"""dreamer.cli: the ``dream`` command and its options through click's CliRunner, on tiny saved models."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from tiny_models import result_files, save_photo

from dreamer.cli import main
from dreamer.images import read_metadata


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
    assert result_files(tmp_path / "results") == [
        "a_tiny_conv3.png", "c_tiny_conv3.png"]


def test_same_stem_twice_gets_two_names(runner, model_file, tmp_path):
    (tmp_path / "x").mkdir()
    save_photo(tmp_path / "a.png")
    save_photo(tmp_path / "x" / "a.png")
    result = runner.invoke(main, dream_args(model_file, "a.png", "x/a.png"))
    assert result.exit_code == 0
    assert result_files(tmp_path / "outputs") == [
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
    assert [line.split()[-3] for line in lines if "conv" in line and "x" in line] == ["conv1", "conv2", "conv3"]
    assert "* conv3" in result.output  # the default: two thirds of the way in
    assert "?x?x16" in result.output


@pytest.mark.parametrize("option, text", [
    (["--preprocess", "caffe"], "--preprocess is for your own models; vgg16 knows its own"),
    (["--input-name", "input"], "--input-name is for your own GraphDef (.pb); vgg16 knows its input"),
])
def test_layers_refuses_user_model_options_for_a_registered_model(runner, option, text):
    result = runner.invoke(main, ["layers", "--model", "vgg16", *option])
    assert result.exit_code != 0 and text in result.output and "Traceback" not in result.output


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


def classifier_args(model, *args):
    return ["--model", str(model), "-i", "2", "--octaves", "1", "--seed", "5", "-q", *args]


@pytest.mark.parametrize(
    "args, objective",
    [
        (["-l", "conv3:1,2"], "conv3:1-2"),
        (["-l", "conv3:4@center"], "conv3:4@center"),
        (["-l", "conv3 + 0.5*conv2:3 - 0.3*conv1"], "conv3+conv2:3=0.5+conv1=-0.3"),
        (["-l", "conv3=1", "-l", "conv2=0.5"], "conv3+conv2=0.5"),
        (["--class", "7"], "class(7)"),
        (["-l", "conv2", "--class", "7", "--loss", "mean"], "conv2[mean]+class(7)"),
        (["-l", "conv3", "--laplacian", "4", "--tv", "0.2"], "conv3"),
    ],
)
def test_cli_objective_forms(runner, classifier_file, tmp_path, args, objective):
    save_photo(tmp_path / "in.png")
    result = runner.invoke(main, classifier_args(classifier_file, *args, "in.png", "-o", "out.png"))
    assert result.exit_code == 0, result.output
    meta = read_metadata(tmp_path / "out.png")
    assert meta["objective"] == objective


@pytest.mark.parametrize(
    "args, message",
    [
        (["-l", "conv3 +"], "bad objective 'conv3 +': expected a layer name or class(...) at position 8"),
        (["-l", "conv3:99"], "channel 99 is out of range: conv3 has 16 channels (0-15)"),
        (["--class", "tabby"], "has no class names; give a class index"),
        (["--class", "12"], "class 12 is out of range"),
        (["-l", "conv3:1", "--guide", "in.png"], "--guide works with whole layers; conv3:1 is not one"),
        (["--mask", "missing.png"], "does not exist"),
        (["--tv", "-1"], "is not a number at least 0"),
        (["--laplacian", "20"], "20 is not in the range 0<=x<=12"),
    ],
)
def test_cli_objective_errors_exit_2_in_one_line(runner, classifier_file, tmp_path, args, message):
    save_photo(tmp_path / "in.png")
    result = runner.invoke(main, classifier_args(classifier_file, *args, "in.png"))
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").iterdir())


def test_cli_mask_leaves_the_outside_equal_to_the_converted_input(runner, classifier_file, tmp_path):
    save_photo(tmp_path / "in.png", size=(64, 48))
    Image.fromarray(np.asarray(Image.open(tmp_path / "in.png").convert("L"))).save(tmp_path / "gray.png")
    mask = np.zeros((24, 32), np.uint8)  # half the size: stretched to the image
    mask[:, 16:] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    for source in ("in.png", "gray.png"):
        args = classifier_args(classifier_file, "--mask", "mask.png", source, "-o", f"o_{source}")
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
        converted = np.asarray(Image.open(tmp_path / source).convert("RGB"))
        out = np.asarray(Image.open(tmp_path / f"o_{source}"))
        np.testing.assert_array_equal(out[:, :30], converted[:, :30])
        assert (out[:, 34:] != converted[:, 34:]).any()


def test_cli_guide(runner, classifier_file, tmp_path):
    save_photo(tmp_path / "in.png")
    save_photo(tmp_path / "guide.png", size=(40, 40))
    result = runner.invoke(main, classifier_args(classifier_file, "-l", "conv2", "--guide", "guide.png", "in.png"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "outputs" / "in_clf_guide-conv2.png").exists()


def test_help_shows_the_objective_forms(runner):
    result = runner.invoke(main, ["--help"])
    for text in ("block5c_add:97@center", "class(tabby)", "0.5*block4c_add:12", "--class", "--guide", "--mask",
                 "--laplacian", "--tv", "dream atlas"):
        assert text in result.output, text


def test_cli_refuses_an_unknown_precision(tmp_path):
    result = CliRunner().invoke(main, ["--precision", "half", str(tmp_path / "x.png")])
    assert result.exit_code == 2 and "half" in result.output
