"""dream probe: the transforms, the scores on networks whose answer is known, the verdict, the command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dreamer.errors import DreamerError
from dreamer.probe import ProbeSettings, probe
from dreamer.probe.decode import cross_validated_accuracy
from dreamer.probe.scores import Pairing, equivariance
from dreamer.probe.transforms import parse_transform, shift_right, zoom

SMALL = ProbeSettings(size=32, batch_size=8, folds=4)
LAYERS = ["conv1", "conv2", "sym", "conv3", "head"]


def letters(count: int, size: int = 32, seed: int = 0) -> list[np.ndarray]:
    """'h' drawn with Pillow's built-in font at random positions, sizes and colours: an oriented shape."""
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        background, ink = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        while np.abs(background.astype(int) - ink).sum() < 200:
            ink = rng.integers(0, 256, 3)
        image = Image.new("RGB", (size, size), tuple(int(v) for v in background))
        font = ImageFont.load_default(size=int(rng.integers(size // 2, size - 4)))
        left, top, right, bottom = ImageDraw.Draw(image).textbbox((0, 0), "h", font=font)
        x = int(rng.integers(-left, max(1 - left, size - right)))
        y = int(rng.integers(-top, max(1 - top, size - bottom)))
        ImageDraw.Draw(image).text((x, y), "h", font=font, fill=tuple(int(v) for v in ink))
        images.append(np.asarray(image))
    return images


def oriented(count: int, size: int = 32, seed: int = 0) -> list[np.ndarray]:
    """``letters`` on a background that brightens from left to right: a clear left-right orientation."""
    ramp = np.linspace(-0.35, 0.35, size, dtype=np.float32)[None, :, None]
    return [np.clip(image / 255.0 + ramp, 0.0, 1.0) for image in letters(count, size, seed)]


def two_branch_model(symmetrise: bool, seed: int = 0):
    """A network that sees x and its mirror image side by side and, with ``symmetrise``, adds them at 'sym'.

    conv1 and conv2 apply the same filters to x and to hflip(x) (grouped
    convolutions with tied weights), so their output is [A(x), A(hflip x)]:
    flipping the input swaps the halves. 'sym' adds the halves (a 1x1
    convolution with weights [I; I]): A(x) + A(hflip x) is exactly
    flip-invariant, and so is every layer after it. Without ``symmetrise``
    'sym' mixes the halves with random weights and nothing is invariant.
    """
    import keras

    rng = np.random.default_rng(seed)

    class FlipWidth(keras.layers.Layer):
        def call(self, x):
            return keras.ops.flip(x, axis=2)

    inputs = keras.Input((None, None, 3), name="pixels")
    both = keras.layers.Concatenate(name="both")([inputs, FlipWidth(name="mirror")(inputs)])
    conv1 = keras.layers.Conv2D(16, 3, padding="same", groups=2, activation="relu", name="conv1")
    conv2 = keras.layers.Conv2D(16, 3, padding="same", groups=2, activation="relu", name="conv2")
    sym = keras.layers.Conv2D(8, 1, use_bias=False, name="sym")
    conv3 = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv3",
                                kernel_initializer=keras.initializers.GlorotUniform(seed=seed))
    x = conv3(sym(conv2(conv1(both))))
    head = keras.layers.Dense(16, name="head", kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1))(
        keras.layers.GlobalAveragePooling2D(name="pool")(x))
    model = keras.Model(inputs, head, name="two_branch")
    for layer, fan_in in ((conv1, 3), (conv2, 8)):
        half = rng.normal(0, 1 / np.sqrt(9 * fan_in), (3, 3, fan_in, 8)).astype(np.float32)
        bias = rng.normal(0, 0.05, 8).astype(np.float32)
        layer.set_weights([np.concatenate([half, half], axis=-1), np.concatenate([bias, bias])])
    eye = np.eye(8, dtype=np.float32)
    mixing = np.concatenate([eye, eye]) if symmetrise else rng.normal(0, 0.5, (16, 8)).astype(np.float32)
    sym.set_weights([mixing[None, None]])
    return model


def mirror_pair_model(seed: int = 0):
    """One stride-1 convolution whose filters come in mirror-image pairs: hflip maps channel 2k onto 2k+1."""
    import keras

    rng = np.random.default_rng(seed)
    inputs = keras.Input((None, None, 3), name="pixels")
    conv = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="pairs")
    model = keras.Model(inputs, conv(inputs), name="mirror_pairs")
    kernel = np.zeros((3, 3, 3, 8), np.float32)
    bias = np.zeros(8, np.float32)
    for k in range(4):
        kernel[..., 2 * k] = rng.normal(0, 0.3, (3, 3, 3))
        kernel[..., 2 * k + 1] = kernel[:, ::-1, :, 2 * k]
        bias[2 * k] = bias[2 * k + 1] = rng.normal(0, 0.05)
    conv.set_weights([kernel, bias])
    return model


# --- the transforms -------------------------------------------------------

def test_transforms_on_a_4x4_image_move_pixels_exactly():
    image = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    assert np.array_equal(parse_transform("hflip").images(image)[0, 0, :, 0], [3, 2, 1, 0])
    assert np.array_equal(parse_transform("vflip").images(image)[0, :, 0, 0], [12, 8, 4, 0])
    assert np.array_equal(parse_transform("rot90").images(image)[0, 0, :, 0], [3, 7, 11, 15])
    assert np.array_equal(shift_right(image, 1)[0, 0, :, 0], [0, 0, 1, 2])
    assert np.array_equal(shift_right(image, -2)[0, 0, :, 0], [2, 3, 3, 3])


def test_transforms_act_on_feature_maps_at_their_own_scale():
    maps = np.arange(2 * 4 * 4 * 5, dtype=np.float32).reshape(2, 4, 4, 5)
    assert np.array_equal(parse_transform("shift:8").maps(maps, 16), shift_right(maps, 2))
    assert np.array_equal(parse_transform("hflip").maps(maps, 64), maps[:, :, ::-1])
    assert parse_transform("gray").maps(maps, 16) is None
    assert np.allclose(zoom(maps, 1.0), maps)


def test_gray_and_scale():
    image = np.random.default_rng(0).random((1, 8, 8, 3)).astype(np.float32)
    gray = parse_transform("gray").images(image)
    assert np.allclose(gray[..., 0], gray[..., 2]) and np.allclose(gray[..., 0], image @ [0.299, 0.587, 0.114])
    flat = np.full((1, 8, 8, 1), 0.25, np.float32)
    assert np.allclose(parse_transform("scale:1.5").images(flat), 0.25)
    assert parse_transform("scale:2").images(image).shape == image.shape


@pytest.mark.parametrize("text", ["mirror", "shift:0", "shift:x", "scale:1", "scale:-2", "hflip:3", ""])
def test_unknown_or_bad_transforms_are_one_line_errors(text):
    with pytest.raises(DreamerError) as caught:
        parse_transform(text)
    assert "\n" not in str(caught.value)


# --- the scores on known answers ------------------------------------------

def test_classifier_is_at_chance_on_identical_pairs_and_sure_on_separable_ones():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 40))
    labels, groups = np.r_[np.zeros(30), np.ones(30)], np.r_[np.arange(30), np.arange(30)]
    assert cross_validated_accuracy(np.vstack([x, x]), labels, groups) == 0.5
    assert cross_validated_accuracy(np.vstack([x, x + 10.0 * (np.arange(40) == 3)]), labels, groups) == 1.0


def test_re_pairing_finds_swapped_channels():
    rng = np.random.default_rng(1)
    halves = (Pairing(6), Pairing(6))
    for i in range(8):
        u = rng.normal(size=(1, 5, 5, 6))
        halves[i % 2].add(u, u[..., [1, 0, 3, 2, 5, 4]])
    spread = 2 * 6 * 25.0  # mean squared distance between two independent standard normal maps
    scores = equivariance(halves, spread)
    assert scores.repaired == pytest.approx(1.0, abs=1e-9)
    assert scores.identity < 0.2
    assert scores.partners == 6


def test_ground_truth_network_becomes_invariant_exactly_at_the_symmetrising_layer():
    result = probe(oriented(40), model=two_branch_model(symmetrise=True), layers=LAYERS, settings=SMALL)
    by_name = {layer.name: layer for layer in result.layers}
    assert [layer.name for layer in result.layers] == ["conv1", "conv2", "sym", "conv3", "head"]
    for name in ("sym", "conv3", "head"):
        assert by_name[name].invariance == pytest.approx(1.0, abs=1e-5)
        assert by_name[name].decodability == 0.5
    for name in ("sym", "conv3"):
        assert by_name[name].invariance_map == pytest.approx(1.0, abs=1e-5)
        assert by_name[name].decodability_grid == 0.5
    for name in ("conv1", "conv2"):
        assert by_name[name].invariance_map < 0.9
        assert by_name[name].decodability >= 0.9
    assert (result.verdict.decodable_to, result.verdict.lost_at) == ("conv2", "sym")
    assert "fine-tune from `conv2` upward" in result.verdict.text


def test_control_network_without_the_symmetrising_step_gets_no_such_verdict():
    result = probe(oriented(40), model=two_branch_model(symmetrise=False), layers=LAYERS, settings=SMALL)
    for layer in result.layers:
        assert layer.invariance < 0.999
        assert layer.decodability > 0.5 + result.chance  # above what guessing reaches
    assert result.verdict.decodable_to in ("sym", "conv3", "head") and result.verdict.lost_at != "sym"


def test_mirror_image_filter_pairs_are_equivariant_once_channels_are_re_paired():
    result = probe(letters(24, seed=3), model=mirror_pair_model(), settings=SMALL)
    layer = result.layers[0]
    assert layer.equivariance == pytest.approx(1.0, abs=1e-3)  # cross products are summed in float32
    assert layer.equivariance_identity < 0.9
    assert layer.partners == 8


def test_two_classes_are_told_apart_and_mirror_pairs_after_symmetrising_are_not():
    images = oriented(30, seed=5)
    mirrored = [image[:, ::-1] for image in images]
    apart = probe(model=two_branch_model(symmetrise=False), classes=(images[:15], mirrored[15:]), layers=["conv1"],
                  settings=SMALL)
    assert apart.mode == "classes" and apart.layers[0].decodability >= 0.9
    assert apart.layers[0].invariance is None and apart.labels == ("the first set", "the second set")
    same = probe(model=two_branch_model(symmetrise=True), pairs=(images[:8], mirrored[:8]), layers=["conv3"],
                 settings=SMALL)
    assert same.layers[0].decodability == 0.5 and same.layers[0].invariance == pytest.approx(1.0, abs=1e-5)


# --- bad input ------------------------------------------------------------

@pytest.mark.parametrize("count, words", [(0, "no images"), (1, "only one"), (3, "too few")])
def test_too_few_images_are_refused(tiny_model, count, words):
    with pytest.raises(DreamerError, match=words):
        probe(letters(count) if count else [], model=tiny_model, settings=SMALL)


def test_too_few_images_per_class_are_refused(tiny_model):
    with pytest.raises(DreamerError, match="too few"):
        probe(model=tiny_model, classes=(letters(6), letters(2)), settings=SMALL)


def test_unknown_layer_names_the_closest(tiny_model):
    with pytest.raises(DreamerError, match="unknown layer 'conv9'.*closest: conv"):
        probe(letters(4), model=tiny_model, layers=["conv9"], settings=SMALL)


def test_settings_out_of_range_are_refused():
    with pytest.raises(DreamerError, match="threshold"):
        ProbeSettings(threshold=1.5)


# --- the command ----------------------------------------------------------

def _save_letters(folder, count, seed=0, mirror=False):
    from PIL import Image

    folder.mkdir()
    for i, image in enumerate(letters(count, seed=seed)):
        Image.fromarray(image[:, ::-1] if mirror else image).save(folder / f"{i:02}.png")
    return folder


def test_command_prints_the_table_and_answer_and_writes_plot_and_json(runner, workdir, model_file):
    from dreamer.cli import main

    folder = _save_letters(workdir / "h", 8)
    args = ["probe", "--model", str(model_file), "--size", "32", "--folds", "2", str(folder), "-o", "out/p.svg"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "conv1" in result.output and "answer: x versus hflip(x)" in result.output
    assert (workdir / "out" / "p.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    data = json.loads((workdir / "out" / "p.json").read_text())
    assert [layer["name"] for layer in data["layers"]] == ["conv1", "conv2", "conv3"]
    assert data["settings"]["transform"] == "hflip" and len(data["inputs"]) == 8
    again = runner.invoke(main, args)
    assert again.exit_code == 0 and (workdir / "out" / "p_1.svg").exists()  # the first plot is kept


def test_command_png_plot_and_pairs(runner, workdir, model_file):
    from dreamer.cli import main

    left, right = _save_letters(workdir / "left", 6), _save_letters(workdir / "right", 6, mirror=True)
    result = runner.invoke(main, ["probe", "-q", "--model", str(model_file), "--size", "32", "--pairs", str(left),
                                  str(right), "--layer", "conv2,conv3", "-o", "pairs.png"])
    assert result.exit_code == 0, result.output
    assert (workdir / "pairs.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "conv1" not in result.output and f"{left} versus {right}" in result.output


@pytest.mark.parametrize("extra, words", [
    ([], "no images"),
    (["one.png"], "only one"),
    (["--transform", "mirror", "h"], "unknown transform 'mirror'"),
    (["--layer", "conv9", "h"], "unknown layer 'conv9'"),
    (["-o", "plot.jpg", "h"], "extension must be one of"),
    (["--classes", "h", "few"], "too few"),
])
def test_command_bad_input_is_one_line(runner, workdir, model_file, extra, words):
    from dreamer.cli import main

    _save_letters(workdir / "h", 5)
    _save_letters(workdir / "few", 2)
    (workdir / "h" / "00.png").replace(workdir / "one.png")
    result = runner.invoke(main, ["probe", "--model", str(model_file), "--size", "32", *extra])
    assert result.exit_code == 2
    assert words in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not (workdir / "outputs").exists() or not any((workdir / "outputs").iterdir())


def test_command_on_a_fixed_size_head_probes_at_its_size_else_says_why(runner, workdir):
    """A user's classifier with a Flatten/Dense head: its class output is probed at its own size only."""
    import keras

    from dreamer.cli import main

    inputs = keras.Input((32, 32, 3))
    features = keras.layers.Conv2D(4, 3, strides=2, activation="relu", name="conv")(inputs)
    logits = keras.layers.Dense(2, name="logits")(keras.layers.Flatten()(features))
    keras.Model(inputs, logits).save(workdir / "flat.keras")
    _save_letters(workdir / "h", 6)
    base = ["probe", "-q", "--model", "flat.keras", "--folds", "2", "h", "-o", "p.svg"]
    result = runner.invoke(main, [*base, "--size", "48"])
    assert result.exit_code == 2 and "class output 'logits'" in result.output, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not (workdir / "p.svg").exists()
    result = runner.invoke(main, [*base, "--size", "32"])
    assert result.exit_code == 0, result.output
    assert [layer["name"] for layer in json.loads((workdir / "p.json").read_text())["layers"]] == ["conv", "logits"]


# --- the answer -----------------------------------------------------------

def _scored(*decodabilities, grid=None):
    from dreamer.probe import LayerScores

    grid = grid or [None] * len(decodabilities)
    return [LayerScores(f"l{i}", i, (i + 1) / len(decodabilities), (4, 4, 8), "conv", decodability=d,
                        decodability_grid=g) for i, (d, g) in enumerate(zip(decodabilities, grid))]


def test_verdict_names_the_deepest_decodable_layer_and_where_the_interval_rules_it_out():
    from dreamer.probe.verdict import verdict

    answer = verdict(_scored(0.6, 0.95, 0.97, 0.8, 0.7), 0.9, "transform", ("x", "hflip(x)"), images=200)
    assert (answer.decodable_to, answer.lost_at, answer.head, answer.decided) == ("l2", "l3", "pooled", True)
    assert answer.text.startswith("x versus hflip(x) is decodable (>= 90%) up to `l2` by a pooled head")
    assert "(97%, 95% interval 94%-99%, 200 images) and lost from `l3` on (80%, 95% interval 74%-85%)" in answer.text
    few = verdict(_scored(0.6, 0.95, 0.97, 0.8, 0.7), 0.9, "transform", ("x", "hflip(x)"), images=12)
    assert (few.decodable_to, few.lost_at, few.decided) == ("l2", "l3", False)
    assert "whether it is still decodable at `l3` the data cannot decide (80%, 95% interval 52%-94%" in few.text


def test_verdict_names_the_head_that_works_and_says_the_other_needs_more_images():
    """A dozen coins: the pooled head wanders around 75%, the 2x2-grid head decodes."""
    from dreamer.probe.verdict import verdict

    layers = _scored(0.5, 0.75, 0.67, 0.58, grid=[0.75, 1.0, 1.0, 0.58])
    answer = verdict(layers, 0.9, "transform", ("x", "hflip(x)"), images=12)
    assert (answer.decodable_to, answer.head, answer.lost_at) == ("l2", "grid", "l3")
    assert answer.interval[0] == pytest.approx(0.757, abs=1e-3) and answer.interval[1] == 1.0
    assert "up to `l2` by a head that keeps a 2x2 layout (100%, 95% interval 76%-100%, 12 images)" in answer.text
    assert "a pooled head (global average pooling + dense) needs more images (best `l1`: 75%" in answer.text
    assert "orientation" not in answer.text


def test_verdict_when_decodable_to_the_end_or_nowhere():
    from dreamer.probe.verdict import verdict

    end = verdict(_scored(0.5, 0.92, 0.95), 0.9, "transform", ("x", "vflip(x)"), images=100)
    assert end.lost_at is None and "stays decodable up to the last layer probed, `l2`, by a pooled head" in end.text
    nowhere = verdict(_scored(0.5, 0.6, 0.55), 0.9, "transform", ("x", "hflip(x)"), images=100)
    assert nowhere.decodable_to is None and nowhere.decided and "no consistent orientation" in nowhere.text
    unsure = verdict(_scored(0.5, 0.75, 0.55), 0.9, "transform", ("x", "hflip(x)"), images=12)
    assert unsure.decodable_to is None and not unsure.decided
    assert "the data cannot decide whether any layer decodes it" in unsure.text and "orientation" not in unsure.text


def test_the_api_prints_nothing_and_its_json_holds_every_number(tiny_model, capsys, tmp_path):
    from dreamer.probe.report import write_json

    result = probe(oriented(8), model=tiny_model, transform="vflip", settings=SMALL)
    assert capsys.readouterr() == ("", "")
    data = json.loads(write_json(result, tmp_path / "r.json").read_text())
    assert data["labels"] == ["x", "vflip(x)"] and data["settings"]["transform"] == "vflip"
    for layer, scores in zip(data["layers"], result.layers):
        assert layer["invariance_map"] == scores.invariance_map and layer["partners"] == scores.partners


@pytest.mark.real_model
def test_embedded_model_on_the_sample_photos(runner, workdir):
    from pathlib import Path

    from dreamer.cli import main

    samples = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "samples").glob("*.png"))
    result = runner.invoke(main, ["probe", "--size", "64", "--layer", "block3b_add,top_activation,predictions",
                                  "-q", *samples])
    assert result.exit_code == 0, result.output
    assert "block3b_add" in result.output and "predictions" in result.output and "answer:" in result.output
    assert (workdir / "outputs" / "probe_efficientnet-lite0_hflip.png").exists()


def test_a_graphdef_model_is_probed_too(monkeypatch, tmp_path):
    from tiny_graphs import sha256, tiny_inception_graph_bytes, write_inception_zip

    from dreamer.models import inception5h, load_model

    graph = tiny_inception_graph_bytes()
    zip_path = write_inception_zip(tmp_path / "inception5h.zip", graph)
    monkeypatch.setattr(inception5h, "GRAPH_SHA256", sha256(graph))
    monkeypatch.setattr(inception5h, "ZIP_SHA256", sha256(zip_path.read_bytes()))
    adapter = load_model("inception5h", tmp_path / "cache", zip_path)
    result = probe(oriented(6), model=adapter, layers=["conv2d0", "mixed4c"], settings=SMALL)
    assert [layer.name for layer in result.layers] == ["conv2d0", "mixed4c"]
    assert all(0.0 <= layer.decodability <= 1.0 and layer.invariance_map is not None for layer in result.layers)
    from types import SimpleNamespace

    from dreamer.probe.export import build_model

    record = SimpleNamespace(layer=SimpleNamespace(name="mixed4c"), shape=(2, 2, 8))
    with pytest.raises(DreamerError, match="not a Keras model, so it cannot be exported"):
        build_model(adapter, record, "pooled", 32, (np.zeros(8), 0.0))


def test_a_probe_table_in_a_settings_file_drives_dream_probe(runner, workdir, model_file):
    from dreamer.cli import main

    (workdir / "cfg").mkdir()
    _save_letters(workdir / "cfg" / "left", 6)
    _save_letters(workdir / "cfg" / "right", 6, mirror=True)
    (workdir / "cfg" / "look.toml").write_text(
        'iterations = 3\n'  # dream's: not read by probe
        f'[probe]\nmodel = "{model_file}"\nsize = 32\npairs = ["left", "right"]\nlayer = ["conv2,conv3"]\n'
        'output = "pairs.svg"\nfolds = 3\nquiet = true\n')
    result = runner.invoke(main, ["probe", "--config", "cfg/look.toml"])
    assert result.exit_code == 0, result.output
    data = json.loads((workdir / "cfg" / "pairs.json").read_text())
    assert [layer["name"] for layer in data["layers"]] == ["conv2", "conv3"] and data["settings"]["folds"] == 3
