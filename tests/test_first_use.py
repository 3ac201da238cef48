"""What a newcomer tripped over (issue 10), each case run as a user would: the CLI through
CliRunner or a subprocess, the Python API as a script would call it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
from PIL import Image
from tiny_models import save_photo

from dreamer.images import read_metadata


def run_python(code: str, cwd, **env) -> subprocess.CompletedProcess:
    """``python -c code`` in ``cwd`` with the worktree importable and TF's log level left unset."""
    environ = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    environ["PYTHONPATH"] = os.pathsep.join([os.getcwd(), environ.get("PYTHONPATH", "")])
    environ.update(env)
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, env=environ,
                          timeout=300)


# --- the Python API -------------------------------------------------------------------------

def test_python_api_names_save_and_quiet_start(tmp_path, model_file):
    """`from dreamer import Dreamer, save`; the saved PNG keeps every setting; TensorFlow's
    start-up lines stay hidden as in the CLI, and the user's logging is not touched."""
    save_photo(tmp_path / "cat.jpg")
    code = f"""
import logging
logging.basicConfig(level=logging.INFO, format="USER %(message)s")
from dreamer import Dreamer, dream, save
from dreamer.config import DreamConfig
result = dream("cat.jpg", model={str(model_file)!r}, preprocess="unit", layers="conv2", iterations=1,
               octaves=1, seed=5, max_size=40)
save(result, "cat_dream.png")
logging.getLogger("mine").info("still here")
print(Dreamer.__name__)
"""
    done = run_python(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Dreamer"
    noise = [line for line in done.stderr.splitlines() if "USER still here" not in line]
    assert noise == [], done.stderr
    assert "USER still here" in done.stderr
    meta = read_metadata(tmp_path / "cat_dream.png")
    assert meta["seed"] == 5 and meta["max_size"] == 40 and meta["input"] == str(tmp_path / "cat.jpg")
    assert len(meta["input_sha256"]) == 64 and meta["keep_colors"] is False


def test_python_m_dreamer_runs_the_cli(tmp_path):
    done = run_python("import runpy; runpy.run_module('dreamer', run_name='__main__')", tmp_path)
    assert done.returncode == 2 and "Usage: dream" in done.stderr
    done = subprocess.run([sys.executable, "-m", "dreamer", "--version"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.getcwd()}, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("dream, version")


def test_metadata_carries_mask_guide_and_input_by_path_and_hash(tiny_model, tmp_path):
    from dreamer import Dreamer
    from dreamer.config import DreamConfig

    photo, mask, guide = (save_photo(tmp_path / name) for name in ("photo.png", "mask.png", "guide.png"))
    dreamer = Dreamer(tiny_model, layers="conv2", guide=str(guide))
    result = dreamer.dream(str(photo), DreamConfig(iterations=1, octaves=1, seed=1), max_size=50, mask=str(mask))
    meta = result.info["dreamer"]
    for key, path in (("input", photo), ("mask", mask), ("guide", guide)):
        assert meta[key] == str(path) and meta[f"{key}_sha256"] == _sha256(path)
    assert meta["max_size"] == 50
    json.dumps(meta)  # it all goes into a PNG text chunk


def _sha256(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- --keep-colors --------------------------------------------------------------------------

def test_keep_colors_dreams_on_brightness_only(tiny_model, photo):
    from dreamer import Dreamer
    from dreamer.config import DreamConfig

    dreamer = Dreamer(tiny_model, layers="conv2")
    config = DreamConfig(iterations=3, octaves=1, seed=2, step_size=4.0)
    photo = np.round((0.3 + 0.4 * photo) * 255) / 255  # mid-range 8-bit levels: no step reaches black or white
    kept = np.asarray(dreamer.dream(photo, replace(config, keep_colors=True)), np.float32) / 255
    free = np.asarray(dreamer.dream(photo, replace(config, keep_colors=False)), np.float32) / 255
    chroma = lambda rgb: rgb - rgb.mean(axis=-1, keepdims=True)  # noqa: E731
    assert np.abs(chroma(kept) - chroma(photo)).max() < 1.01 / 255  # rounding to 8 bits only
    assert np.abs(chroma(free) - chroma(photo)).max() > 10 / 255
    assert np.abs(kept - photo).mean() > 2 / 255  # it did dream


def test_grayscale_input_stays_gray_by_default(tiny_model, tmp_path):
    from dreamer import Dreamer
    from dreamer.config import DreamConfig

    gray = save_photo(tmp_path / "gray.png", mode="L")
    result = Dreamer(tiny_model, layers="conv2").dream(str(gray), DreamConfig(iterations=2, octaves=1, seed=1))
    rgb = np.asarray(result)
    assert np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])
    assert result.info["dreamer"]["keep_colors"] is True


# --- mistakes answered before TensorFlow loads ------------------------------------------------

#: Runs each command line through CliRunner in one fresh interpreter and says, for each, whether
#: TensorFlow had been imported by the time the answer came.
CLI_CASES_SCRIPT = """
import json, sys
from click.testing import CliRunner
from dreamer.cli import main
answers = []
for args in json.loads(sys.argv[1]):
    result = CliRunner().invoke(main, args, prog_name="dream")
    answers.append({"code": result.exit_code, "output": result.output, "tf": "tensorflow" in sys.modules})
print(json.dumps(answers))
"""


def answers_before_tensorflow(cases: list[list[str]], cwd, **env) -> list[dict]:
    environ = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    environ.update(PYTHONPATH=os.getcwd(), DREAMER_CACHE_DIR=str(cwd / "cache"), **env)
    environ.pop("DREAMER_INCEPTION5H", None)
    done = subprocess.run([sys.executable, "-c", CLI_CASES_SCRIPT, json.dumps(cases)], cwd=cwd, capture_output=True,
                          text=True, env=environ, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_mistakes_are_answered_before_tensorflow_is_imported(tmp_path):
    save_photo(tmp_path / "photo.png")
    save_photo(tmp_path / "b.png")
    save_photo(tmp_path / "tiny.png", size=(20, 20))
    (tmp_path / "a folder").mkdir()
    (tmp_path / "notes.txt").write_text("not a picture")
    cases = {
        "missing": (["missing.jpg"], 1, "missing.jpg: no such file"),
        "folder without images": (["a folder"], 2, "a folder: no images in this folder"),
        "not an image": (["notes.txt"], 1, "notes.txt: not an image Pillow can read"),
        "too small": (["tiny.png"], 1, "tiny.png: image is 20x20; the model needs at least 32x32 pixels"),
        "too small after max-size": (["--max-size", "16", "photo.png"], 1, "after --max-size 16"),
        "output is input": (["photo.png", "-o", "photo.png"], 2, "the output would overwrite the input"),
        "one file, two inputs": (["photo.png", "b.png", "-o", "one.png"], 2,
                                 "-o one.png names one image file, but there are 2 inputs; give a folder"),
        "layer typo": (["--layer", "block5c_ad", "photo.png"], 2, "closest: block5c_add"),
        "layer typo, other model": (["--model", "vgg16", "--layer", "block4_conv", "photo.png"], 2,
                                    "unknown layer 'block4_conv' in model 'vgg16'; closest: block4_conv3"),
        "unknown model": (["--model", "vgg61", "photo.png"], 2, "unknown model 'vgg61'; registered models:"),
        "missing model file": (["--model", "mine.keras", "photo.png"], 2, "model file not found: mine.keras"),
        "bad option": (["--iterations", "x", "photo.png"], 2, "Usage: dream [OPTIONS] INPUT..."),
        "classify a missing file": (["classify", "missing.jpg", "notes.txt"], 1, "notes.txt: not an image"),
    }
    answers = answers_before_tensorflow([args for args, _, _ in cases.values()], tmp_path)
    for (name, (_, code, text)), answer in zip(cases.items(), answers):
        assert (answer["code"], answer["tf"]) == (code, False), (name, answer)
        assert text in answer["output"] and "Traceback" not in answer["output"], (name, answer["output"])
    assert not (tmp_path / "one.png").exists() and not (tmp_path / "outputs").exists()


def test_other_commands_answer_mistakes_before_tensorflow_too(tmp_path):
    """info, again, atlas and the objective's classes and channels: checked on shipped data, exit 2, one line."""
    save_photo(tmp_path / "photo.png")
    cases = {
        "info without settings": (["info", "photo.png"], "photo.png: carries no dreamer settings"),
        "again without settings": (["again", "photo.png"], "photo.png: carries no dreamer settings"),
        "atlas layer typo": (["atlas", "--layer", "block5c_ad"], "closest: block5c_add"),
        "atlas class typo": (["atlas", "--class", "tabbby"], "unknown class 'tabbby' in model "
                                                            "'efficientnet-lite0'; closest: tabby"),
        "atlas channel": (["atlas", "--channels", "100-200"], "channel 112 is out of range: block5c_add has 112"),
        "atlas bad list": (["atlas", "--channels", "1,,2"], "bad channel list"),
        "class typo": (["--class", "tabbby", "photo.png"], "unknown class 'tabbby'"),
        "class typo in --layer": (["--layer", "block4c_add + class(tabbby)", "photo.png"], "closest: tabby"),
        "class index": (["--class", "1000", "photo.png"], "class 1000 is out of range"),
        "channel": (["--layer", "block5c_add:9999", "photo.png"], "channel 9999 is out of range: block5c_add "
                                                                 "has 112 channels (0-111)"),
        "neuron": (["--layer", "block3b_add:40@center", "photo.png"], "channel 40 is out of range"),
        "from noise": (["--param", "fft", "--class", "tabbby"], "unknown class 'tabbby'"),
        "from noise, layer typo": (["--param", "pixels", "--layer", "block5c_ad:3"], "closest: block5c_add"),
    }
    answers = answers_before_tensorflow([args for args, _ in cases.values()], tmp_path)
    for (name, (_, text)), answer in zip(cases.items(), answers):
        assert (answer["code"], answer["tf"]) == (2, False), (name, answer)
        assert text in answer["output"] and len(answer["output"].strip().splitlines()) == 1, (name, answer)
    assert not (tmp_path / "outputs").exists()


def test_mixed4c_offline_is_a_few_short_lines_before_tensorflow(tmp_path):
    """The design card's example with no network (a proxy that refuses: nothing leaves the machine)."""
    save_photo(tmp_path / "photo.jpg")
    refuse = "http://127.0.0.1:9"
    [answer] = answers_before_tensorflow([["--layer", "mixed4c", "photo.jpg"]], tmp_path, https_proxy=refuse,
                                         HTTPS_PROXY=refuse, http_proxy=refuse, no_proxy="")
    assert answer["code"] == 2 and answer["tf"] is False
    lines = answer["output"].strip().splitlines()
    assert "using inception5h" in lines[0]
    assert 3 <= len(lines) - 1 <= 5 and all(len(line) < 130 for line in lines[1:]), answer["output"]
    text = "\n".join(lines[1:])
    assert "tensorflow_inception_graph.pb" in text and "download.tensorflow.org/models/inception5h.zip" in text
    assert lines[-1].strip() == "dream --weights inception5h.zip --layer mixed4c photo.jpg"


def test_large_input_gets_one_hint_about_max_size(tmp_path):
    for name in ("big1.png", "big2.png"):
        Image.new("RGB", (2400, 2000)).save(tmp_path / name)
    refuse = "http://127.0.0.1:9"  # inception5h offline: the run stops before any dreaming, after the hint
    [answer] = answers_before_tensorflow([["--model", "inception5h", "big1.png", "big2.png"]], tmp_path,
                                         https_proxy=refuse, HTTPS_PROXY=refuse, no_proxy="")
    assert answer["tf"] is False
    assert answer["output"].count("--max-size 1024") == 1
    assert "big1.png is 2400x2000 (5 MP)" in answer["output"]


# --- messages that say what happened ---------------------------------------------------------

def tiny_args(model_file, *extra):
    return ["--model", str(model_file), "--preprocess", "unit", "-i", "1", "--octaves", "1", "--seed", "3", *extra]


def test_a_renamed_output_is_reported_when_written_with_its_reason(runner, model_file, tmp_path):
    from dreamer.cli import main

    save_photo(tmp_path / "cat.png")
    (tmp_path / "x").mkdir()
    save_photo(tmp_path / "x" / "cat.png")
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "cat_tiny_conv3.png").write_bytes(b"mine")
    result = runner.invoke(main, tiny_args(model_file, "cat.png", "x/cat.png"))
    assert result.exit_code == 0, result.output
    lines = [line.split("] ", 1)[1] for line in result.stderr.splitlines() if "] wrote" in line]
    assert lines == [
        "wrote outputs/cat_tiny_conv3_2.png (outputs/cat_tiny_conv3.png exists; --overwrite replaces it)",
        "wrote outputs/cat_tiny_conv3_1.png (its name is taken by another input of this batch)",
    ]
    assert (tmp_path / "outputs" / "cat_tiny_conv3.png").read_bytes() == b"mine"


def test_no_rename_is_reported_for_a_run_that_fails(runner, model_file, tmp_path):
    from dreamer.cli import main

    data = save_photo(tmp_path / "cut.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])  # the header reads; the pixels do not
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "cut_tiny_conv3.png").write_bytes(b"mine")
    result = runner.invoke(main, tiny_args(model_file, "cut.png"))
    assert result.exit_code == 1
    assert "exists" not in result.output and "instead" not in result.output and "Error: cut.png" in result.output


def test_cli_result_records_max_size_mask_guide_and_input(runner, model_file, tmp_path):
    from dreamer.cli import main

    for name in ("photo.png", "mask.png", "guide.png"):
        save_photo(tmp_path / name)
    result = runner.invoke(main, tiny_args(model_file, "--layer", "conv2", "--max-size", "50", "--mask", "mask.png",
                                           "--guide", "guide.png", "photo.png", "-o", "out.png"))
    assert result.exit_code == 0, result.output
    meta = read_metadata(tmp_path / "out.png")
    for key in ("input", "mask", "guide"):
        assert meta[key] == str(tmp_path / f"{key if key != 'input' else 'photo'}.png")
        assert meta[f"{key}_sha256"] == _sha256(tmp_path / f"{key if key != 'input' else 'photo'}.png")
    assert meta["max_size"] == 50 and meta["keep_colors"] is False and meta["objective"] == "guide(conv2)"


def test_keep_colors_from_the_command_line(runner, model_file, tmp_path):
    from dreamer.cli import main

    save_photo(tmp_path / "gray.png", mode="L")
    for flag, name in (([], "auto.png"), (["--no-keep-colors"], "colour.png")):
        result = runner.invoke(main, tiny_args(model_file, *flag, "-s", "6", "gray.png", "-o", name))
        assert result.exit_code == 0, result.output
    auto, colour = (np.asarray(Image.open(tmp_path / name)).astype(int) for name in ("auto.png", "colour.png"))
    assert (auto[..., 0] == auto[..., 1]).all() and (auto[..., 1] == auto[..., 2]).all()
    assert np.abs(colour[..., 0] - colour[..., 1]).max() > 0
    assert read_metadata(tmp_path / "auto.png")["keep_colors"] is True
    assert read_metadata(tmp_path / "colour.png")["keep_colors"] is False


def test_layers_shows_shapes_at_a_size(runner, model_file):
    from dreamer.cli import main

    result = runner.invoke(main, ["layers", "--model", str(model_file), "--size", "64"])
    assert result.exit_code == 0, result.output
    assert "output at 64x64" in result.output
    rows = dict(line.replace("*", " ").split()[:2] for line in result.output.splitlines()[1:4])
    assert rows == {"conv1": "64x64x8", "conv2": "32x32x16", "conv3": "32x32x16"}


def test_graph_input_named_from_the_command_line(runner, tmp_path):
    import tensorflow as tf

    from dreamer.cli import main

    graph = tf.Graph()
    with graph.as_default():
        a = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3], name="image")
        b = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3], name="other")
        tf.nn.relu(tf.nn.conv2d(a + b, tf.ones([3, 3, 3, 4]), 2, "SAME"), name="features")
    (tmp_path / "two.pb").write_bytes(graph.as_graph_def().SerializeToString())
    result = runner.invoke(main, ["layers", "--model", "two.pb"])
    assert result.exit_code == 2 and "several inputs (image, other); choose one with --input-name" in result.output
    result = runner.invoke(main, ["layers", "--model", "two.pb", "--input-name", "image", "--size", "10"])
    assert result.exit_code == 0, result.output
    assert "features" in result.output and "5x5x4" in result.output
