"""What a newcomer tripped over (issue 10), each case run as a user would: the CLI through
CliRunner or a subprocess, the Python API as a script would call it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
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
