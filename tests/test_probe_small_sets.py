"""dream probe on small real sets: groups, augmentation, dense layers, the exported head, early answers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_probe import SMALL, letters, oriented

from dreamer.errors import DreamerError
from dreamer.probe import probe
from dreamer.probe.augment import variant
from dreamer.probe.decode import assign_folds, cross_validated_accuracy, ridge_weights, wilson_interval
from dreamer.probe.inputs import group_ids

ROOT = Path(__file__).resolve().parents[1]


def test_wilson_interval_known_values():
    assert wilson_interval(1.0, 12) == pytest.approx((0.7575, 1.0), abs=1e-4)
    assert wilson_interval(0.5, 40) == pytest.approx((0.352, 0.648), abs=1e-3)
    assert wilson_interval(0.0, 10)[0] == 0.0 and wilson_interval(0.5, 0) == (0.0, 1.0)


def test_groups_from_a_rule_a_file_and_labels(tmp_path):
    names = [Path(f"coin{n}_{side}.png") for n in (1, 2, 3) for side in ("a", "b")]
    by_rule = group_ids(names, r"name:^(coin\d+)_")
    assert by_rule.tolist() == [0, 0, 1, 1, 2, 2]
    table = tmp_path / "groups.txt"
    table.write_text("# file group\ncoin1_a.png x\ncoin1_b.png,y\n" + "".join(f"{p.name}\tz\n" for p in names[2:]))
    assert group_ids(names, table).tolist() == [0, 1, 2, 2, 2, 2]
    assert group_ids(names, ["p", "q", "p", "q", "r", "r"]).tolist() == [0, 1, 0, 1, 2, 2]
    assert group_ids(names + [np.zeros((4, 4, 3))], "name:^nothing").tolist() == list(range(7))


@pytest.mark.parametrize("spec, words", [
    ("name:(", "not a regular expression"),
    ("missing.txt", "cannot read"),
])
def test_bad_groups_are_one_line_errors(spec, words):
    with pytest.raises(DreamerError, match=words):
        group_ids([Path("a.png")], spec)


def test_a_groups_file_must_name_every_image(tmp_path):
    table = tmp_path / "g.txt"
    table.write_text("a.png 1\n")
    with pytest.raises(DreamerError, match="names no group for b.png"):
        group_ids([Path("a.png"), Path("b.png")], table)


def test_folds_keep_a_group_together():
    groups = np.repeat(np.arange(10), 4)
    labels = np.tile([0, 1], 20)
    folds = assign_folds(groups, labels, 5, seed=1)
    for group in range(10):
        assert len(set(folds[groups == group].tolist())) == 1


def test_grouped_images_never_leak_between_folds():
    """Rows that are copies within a group: a classifier that memorises would score 100% if groups leaked."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(12, 30))
    features = np.repeat(base, 4, axis=0)  # four copies of each row
    labels = rng.integers(0, 2, 12).repeat(4)  # random labels: nothing to learn except the copies
    groups = np.arange(12).repeat(4)
    assert cross_validated_accuracy(features, labels, groups, folds=4) < 0.8
    leaky = cross_validated_accuracy(features, labels, np.arange(48), folds=4)
    assert leaky > 0.9  # the copies are found when groups are ignored


def test_variants_are_reproducible_small_changes():
    batch = np.stack(letters(3)).astype(np.float32) / 255.0
    one = variant(batch, np.array([0, 1, 2]), 1, seed=0)
    again = variant(batch[1:2], np.array([1]), 1, seed=0)
    assert one.shape == batch.shape and np.array_equal(one[1], again[0])  # independent of the batch
    assert not np.array_equal(one, batch) and not np.array_equal(one, variant(batch, np.arange(3), 2, seed=0))
    assert 0.0 <= one.min() and one.max() <= 1.0


def test_augmentation_keeps_a_variant_in_its_images_fold_and_counts_images_not_variants(tiny_model):
    from dataclasses import replace

    result = probe(oriented(12), model=tiny_model, settings=replace(SMALL, augment=2), layers=["conv2"])
    assert result.images == 12 and result.settings.augment == 2
    from dreamer.probe.report import table_text

    assert "12 images at 32 px, 2 variants of each;" in table_text(result)
    layer = result.layers[0]
    assert (layer.decodability_low, layer.decodability_high) == pytest.approx(
        wilson_interval(layer.decodability, 12))


def test_groups_reduce_the_images_the_interval_counts(tiny_model):
    result = probe(oriented(12), model=tiny_model, settings=SMALL, layers=["conv2"], groups=[i // 2 for i in range(12)])
    assert result.images == 6


def _dense_model():
    import keras

    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dense(6, activation="relu", name="hidden")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="logits")(x))


def test_dense_layers_of_a_users_model_are_probed():
    result = probe(oriented(8), model=_dense_model(), settings=SMALL)
    assert [(layer.name, layer.kind) for layer in result.layers] == [("conv", "conv"), ("hidden", "dense"),
                                                                     ("logits", "dense")]
    hidden = result.layers[1]
    assert hidden.shape == (6,) and hidden.decodability is not None and hidden.decodability_grid is None
    named = probe(oriented(8), model=_dense_model(), settings=SMALL, layers=["hidden"])
    assert [layer.name for layer in named.layers] == ["hidden"]


LOAD_PLAINLY = """
import sys, numpy as np, keras
model = keras.models.load_model(sys.argv[1])
images = np.load(sys.argv[2])
print(' '.join(f'{v:.6f}' for v in model.predict(images, verbose=0)[:, 0]))
print(any(name.startswith('dreamer') for name in sys.modules))
"""


@pytest.mark.parametrize("head_layers", [["conv2"], ["conv3"]])
def test_exported_head_loads_with_plain_keras_and_scores_as_the_probe_trained_it(tiny_model, tmp_path, head_layers):
    images = oriented(16)
    path = tmp_path / "head.keras"
    result = probe(images, model=tiny_model, settings=SMALL, layers=head_layers, export=path)
    assert result.export["path"] == str(path) and result.export["layer"] == result.verdict.decodable_to
    assert result.export["accuracy"] == result.verdict.accuracy
    batch = np.stack([np.asarray(image * 255, np.float32) for image in images])
    both = np.concatenate([batch, batch[:, :, ::-1]])
    np.save(tmp_path / "x.npy", both)
    done = subprocess.run([sys.executable, "-c", LOAD_PLAINLY, str(path), str(tmp_path / "x.npy")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    scores_line, imported = done.stdout.strip().splitlines()[-2:]
    assert imported == "False"  # dreamer is not needed to load or run it
    scores = np.array([float(v) for v in scores_line.split()])
    from dreamer.probe.collect import LayerRecord  # noqa: F401  (the probe's own features, for the same score)

    accuracy = np.mean((scores > 0.5) == np.repeat([False, True], len(images)))
    assert accuracy >= 0.9  # trained on these very images


def test_ridge_weights_reproduce_the_kernel_scores():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(40, 7)) * rng.uniform(0.1, 10, 7)
    labels = (features[:, 0] + 0.1 * rng.normal(size=40) > 0).astype(int)
    weights, bias = ridge_weights(features, labels, np.arange(40))
    assert np.mean(((features @ weights + bias) > 0) == labels) >= 0.95


def test_no_head_to_export_is_said(tmp_path):
    """After the symmetrising layer nothing is decodable, and with 40 images the intervals rule it out."""
    from test_probe import two_branch_model

    result = probe(oriented(40), model=two_branch_model(symmetrise=True), settings=SMALL, layers=["sym", "conv3"],
                   export=tmp_path / "h.keras")
    assert result.verdict.decodable_to is None and result.verdict.decided
    assert result.export["path"] is None and "nothing to export" in result.export["note"]
    assert not (tmp_path / "h.keras").exists()


@pytest.mark.parametrize("head", ["pooled", "grid"])
def test_exported_head_computes_the_probes_features_and_classifier(tiny_model, head, tmp_path):
    """The model's score is sigmoid(4 * (features @ w + b)) on the probe's own pooled or 2x2-grid features."""
    from types import SimpleNamespace

    from dreamer.models import load_model
    from dreamer.probe.export import SHARPNESS, build_model
    from dreamer.probe.features import grid, pooled

    adapter = load_model(tiny_model, tmp_path, None, None)

    images = np.stack(oriented(6, size=36)).astype(np.float32)  # 36 px: odd-sized maps, overlapping cells
    maps = np.asarray(adapter.feature_model(["conv2"])(adapter.preprocess(images))["conv2"])
    features = pooled(maps) if head == "pooled" else grid(maps)
    rng = np.random.default_rng(0)
    weights, bias = rng.normal(size=features.shape[1]) * 0.1, 0.2
    record = SimpleNamespace(layer=SimpleNamespace(name="conv2"), shape=maps.shape[1:])
    model = build_model(adapter, record, head, 36, (weights, bias))
    expected = 1 / (1 + np.exp(-SHARPNESS * (features @ weights + bias)))
    assert np.asarray(model(images * 255.0))[:, 0] == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("args, words", [
    (["--transform", "hflop", "a.png"], "unknown transform 'hflop'"),
    (["a.png", "b.png"], "2 are too few"),
    (["--export", "head.h5", "a.png", "b.png", "c.png", "d.png"], "must end in .keras"),
    (["--groups", "name:(", "a.png", "b.png", "c.png", "d.png"], "not a regular expression"),
])
def test_mistakes_are_answered_before_tensorflow_loads(tmp_path, args, words):
    code = ("import sys\nfrom dreamer.cli import main\ntry:\n    main(['probe', *sys.argv[1:]])\n"
            "except SystemExit as exit:\n    print('tf', 'tensorflow' in sys.modules, exit.code)")
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=tmp_path,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "tf False 2", done.stdout + done.stderr
    assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.real_model
def test_a_head_exported_from_letters_classifies_new_letters_as_well_as_it_reported(tmp_path):
    """EfficientNet-Lite0, 48 letters at 96 px: held-out accuracy = the cross-validated one, within a few points."""
    import keras

    from dreamer.probe import ProbeSettings

    path = tmp_path / "head.keras"
    result = probe(letters(48, size=96, seed=0), transform="hflip", export=path,
                   settings=ProbeSettings(size=96, max_layers=8))
    assert result.export["path"] == str(path), result.verdict.text
    new = np.stack(letters(80, size=96, seed=1)).astype(np.float32)
    scores = keras.models.load_model(path).predict(np.concatenate([new, new[:, :, ::-1]]), verbose=0)[:, 0]
    held_out = np.mean((scores > 0.5) == np.repeat([False, True], len(new)))
    assert abs(held_out - result.export["accuracy"]) <= 0.08, (held_out, result.export)


def test_command_with_groups_augmentation_and_export(runner, workdir, model_file):
    import json

    from PIL import Image

    from dreamer.cli import main

    folder = workdir / "coins"
    folder.mkdir()
    for i, image in enumerate(oriented(12)):
        Image.fromarray((image * 255).astype(np.uint8)).save(folder / f"coin{i // 2}_{i % 2}.png")
    args = ["probe", "-q", "--model", str(model_file), "--size", "32", "--folds", "3", "--augment", "1",
            "--groups", r"name:^(coin\d+)_", "--export", "head.keras", str(folder), "-o", "p.png"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "12 images at 32 px, 1 variant of each, 6 groups;" in result.output
    assert "[95% interval over 6 images]" in result.output and "exported head.keras" in result.output
    data = json.loads((workdir / "p.json").read_text())
    assert data["images"] == 6 and data["settings"]["augment"] == 1 and data["export"]["path"] == "head.keras"
    assert all(layer["decodability_low"] <= layer["decodability"] <= layer["decodability_high"]
               for layer in data["layers"])
    assert data["verdict"]["head"] in ("pooled", "grid") and len(data["verdict"]["interval"]) == 2
    again = runner.invoke(main, args)
    assert again.exit_code == 0 and (workdir / "head_1.keras").exists()  # the first export is kept
