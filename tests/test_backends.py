"""Every Keras backend: which one is chosen, the formats only TensorFlow reads, and the same picture on each.

The tests in this file run under whatever backend the session has
(``KERAS_BACKEND``); the last one starts a process per installed backend.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dreamer import backend
from dreamer.cli import main
from dreamer.errors import ModelError
from dreamer.images import read_metadata

ROOT = Path(__file__).resolve().parent.parent


def test_the_backend_is_keras_own_choice(tmp_path):
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax"}), encoding="utf-8")
    assert backend.configured_name({"KERAS_BACKEND": "torch", "KERAS_HOME": str(tmp_path)}) == "torch"
    assert backend.configured_name({"KERAS_HOME": str(tmp_path)}) == "jax"
    assert backend.configured_name({"KERAS_HOME": str(tmp_path / "none")}) == "tensorflow"


@pytest.mark.backends
def test_the_running_backend_is_the_one_keras_uses():
    import keras

    assert backend.chosen_name() == keras.backend.backend()


@pytest.mark.parametrize("what", ["a frozen GraphDef (.pb)", "a SavedModel folder"])
def test_tensorflow_only_formats_say_so_in_one_line(monkeypatch, what):
    monkeypatch.setattr(backend, "chosen_name", lambda: "jax")
    with pytest.raises(ModelError, match="needs the TensorFlow backend; Keras uses jax here"):
        backend.require_tensorflow(what)


@pytest.mark.parametrize("model", ["graph.pb", "inception5h"])
def test_the_command_refuses_a_tensorflow_format_under_another_backend(runner, workdir, monkeypatch, model):
    monkeypatch.setattr(backend, "chosen_name", lambda: "torch")
    (workdir / "graph.pb").write_bytes(b"\n\x0c\n\x05input\x12\x03Placeholder")
    Image.new("RGB", (40, 40), "gray").save(workdir / "in.png")
    result = runner.invoke(main, ["-m", model, "-i", "1", "--octaves", "1", "in.png"])
    assert result.exit_code != 0
    assert "needs the TensorFlow backend; Keras uses torch here" in result.output
    assert "Traceback" not in result.output


@pytest.mark.backends
def test_results_record_the_backend(runner, workdir, model_file):
    import keras

    Image.new("RGB", (40, 40), "gray").save(workdir / "in.png")
    result = runner.invoke(main, ["-m", str(model_file), "-l", "conv2", "-i", "1", "--octaves", "1", "in.png",
                                  "-o", "out.png"])
    assert result.exit_code == 0, result.output
    assert read_metadata(workdir / "out.png")["backend"] == keras.backend.backend()
    shown = runner.invoke(main, ["info", "out.png"])
    assert f"backend           {keras.backend.backend()}" in shown.output


def installed_backends() -> list[str]:
    return ["tensorflow"] + [name for name in ("jax", "torch") if importlib.util.find_spec(name) is not None]


def dream_on(name: str, image: Path, out: Path, cache: Path) -> np.ndarray:
    env = {**os.environ, "KERAS_BACKEND": name, "PYTHONPATH": str(ROOT), "DREAMER_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "dreamer", str(image), "-o", str(out), "-i", "3", "--octaves", "2",
               "--seed", "11", "-q"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert read_metadata(out)["backend"] == name
    return np.asarray(Image.open(out), np.float64)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.mark.real_model
@pytest.mark.skipif(len(installed_backends()) < 2, reason="only TensorFlow is installed (pip install dreamer[jax])")
def test_every_installed_backend_dreams_the_same_picture(tmp_path):
    """Same seed and settings on the default model: within 35 dB PSNR of TensorFlow's picture."""
    image = tmp_path / "cat.png"
    Image.open(ROOT / "samples" / "chelsea.png").resize((112, 75)).save(image)
    pictures = {name: dream_on(name, image, tmp_path / f"{name}.png", tmp_path / "cache")
                for name in installed_backends()}
    original = np.asarray(Image.open(image), np.float64)
    for name, picture in pictures.items():
        assert psnr(picture, original) < 40, name  # it did dream
        assert psnr(picture, pictures["tensorflow"]) >= 35, name
