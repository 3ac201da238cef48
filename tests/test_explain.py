"""dream explain: the methods on a network whose evidence is known, the trust checks, the command, its errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tiny_models import EVIDENCE_REGION, region_classifier_model, region_photo, save_photo

from dreamer.attribution import METHODS, ExplainSettings, TargetSpec, explain_image, parse_methods
from dreamer.attribution.trust import area, deletion_insertion, randomised_top, rank_correlation
from dreamer.errors import DreamerError, ModelError

SMALL = ExplainSettings(samples=8, batch=8, scorecam_channels=6)


@pytest.fixture(scope="module")
def region_adapter():
    from dreamer.models import adapter_for_keras

    return adapter_for_keras(region_classifier_model(), "region", "unit")


@pytest.fixture(scope="module")
def region_explanation(region_adapter):
    return explain_image(region_adapter, region_photo(), ["gradcam", "integrated-gradients"], settings=SMALL,
                         check=True)


def share_inside(heat: np.ndarray) -> float:
    top, left, size = EVIDENCE_REGION
    return float(heat[top:top + size, left:left + size].sum() / heat.sum())


@pytest.mark.parametrize("method", ["gradcam", "integrated-gradients"])
def test_the_map_puts_most_of_its_mass_where_the_evidence_is(region_explanation, method):
    assert region_explanation.target == "class 0"  # the red detector's class is the one predicted
    assert share_inside(region_explanation.maps[method]) > 0.8  # the region is a tenth of the image


@pytest.mark.parametrize("method", ["gradcam", "integrated-gradients"])
def test_the_map_changes_when_the_network_is_randomised_and_the_weights_come_back(region_adapter,
                                                                                   region_explanation, method):
    steps = region_explanation.trust[method]["randomisation"]
    assert [step["layers"] for step in steps] == [1, 3]  # conv1, conv2, predictions: the cascade stops there
    assert steps[-1]["deepest_layer"] == "conv1" and steps[0]["top_layer"] == "predictions"
    assert steps[-1]["rank_correlation"] < 0.75
    again = explain_image(region_adapter, region_photo(), [method], settings=SMALL)
    np.testing.assert_allclose(again.maps[method], region_explanation.maps[method], atol=1e-5)


@pytest.mark.backends
def test_grad_cam_and_integrated_gradients_find_the_evidence_and_follow_the_weights_on_every_backend(
        region_adapter):
    result = explain_image(region_adapter, region_photo(), ["gradcam", "integrated-gradients"], settings=SMALL)
    assert result.target == "class 0"
    for method in ("gradcam", "integrated-gradients"):
        assert share_inside(result.maps[method]) > 0.8, method
    with randomised_top(region_adapter.model, 3, seed=0):  # the compiled gradients read the shuffled weights
        shuffled = explain_image(region_adapter, region_photo(), ["gradcam"], settings=SMALL)
    assert rank_correlation(shuffled.maps["gradcam"], result.maps["gradcam"]) < 0.75


def test_deletion_removes_the_class_and_insertion_brings_it_back(region_explanation):
    trust = region_explanation.trust["gradcam"]
    assert trust["deletion_curve"][0] > trust["deletion_curve"][-1]
    assert trust["insertion_curve"][-1] > trust["insertion_curve"][0]
    assert trust["deletion"] < trust["insertion"]


def test_a_random_map_deletes_worse_than_grad_cam(region_adapter, region_explanation):
    from dreamer.attribution.network import Network

    network = Network(region_adapter, _class_target(region_adapter, "0"))
    noise = np.random.default_rng(1).random((32, 32)).astype(np.float32)
    random_order = deletion_insertion(network, region_photo(), noise, SMALL.curve_steps)
    assert random_order["deletion"] > region_explanation.trust["gradcam"]["deletion"]


def _class_target(adapter, text):
    from dreamer.attribution.network import resolve_target

    return resolve_target(adapter, TargetSpec("class", text), None)


def test_every_method_gives_a_map_of_the_analysis_size_scaled_to_one(tiny_classifier):
    from dreamer.models import adapter_for_keras

    adapter = adapter_for_keras(tiny_classifier, "tiny", "unit")
    photo = np.random.default_rng(0).random((30, 45, 3)).astype(np.float32)
    result = explain_image(adapter, photo, list(METHODS), settings=ExplainSettings(size=32, **_small()))
    assert list(result.maps) == list(METHODS)
    for heat in result.maps.values():
        assert heat.shape == (32, 48) and heat.dtype == np.float32
        assert heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    assert result.cam_layer == "conv3" and 0 < result.score < 1
    assert set(result.record()) >= {"model", "target", "score", "settings", "trust", "seconds", "map_size"}


def _small() -> dict:
    return {"samples": 4, "batch": 8, "scorecam_channels": 4}


def test_a_channel_target_is_explained_at_its_own_layer(region_adapter):
    result = explain_image(region_adapter, region_photo(), ["gradcam"], target=TargetSpec("objective", "conv2:1"),
                           settings=SMALL)
    assert result.cam_layer == "conv2" and result.target == "conv2:1" and not result.is_class
    assert share_inside(result.maps["gradcam"]) > 0.8


@pytest.mark.backends
@pytest.mark.parametrize("target, cam_layer, message", [
    (TargetSpec("objective", "conv1:0"), "conv2", "does not depend on layer 'conv2'"),
    (TargetSpec(), "pool", "layer 'pool' has no spatial extent"),
    (TargetSpec(), "convv2", "closest: conv2"),
    (TargetSpec("class", "7"), "", "class 7 is out of range"),
    (TargetSpec("objective", "conv9:1"), "", "unknown layer 'conv9'"),
])
def test_bad_requests_are_one_line_model_errors(region_adapter, target, cam_layer, message):
    with pytest.raises(ModelError, match=message) as info:
        explain_image(region_adapter, region_photo(), ["gradcam"], target=target,
                      settings=ExplainSettings(cam_layer=cam_layer, samples=2))
    assert "\n" not in str(info.value)


def test_a_class_name_is_found_among_the_labels_with_closest_suggestions(region_adapter):
    from dataclasses import replace

    labelled = replace(region_adapter, labels=["red thing", "not red", "other"])
    result = explain_image(labelled, region_photo(), ["gradcam"], target=TargetSpec("class", "Red_Thing"),
                           settings=SMALL)
    assert result.target == "red thing (0)"
    with pytest.raises(ModelError, match="closest: red thing"):
        explain_image(labelled, region_photo(), ["gradcam"], target=TargetSpec("class", "red thin"), settings=SMALL)


def test_the_shuffled_weights_are_put_back(region_adapter):
    before = [w.copy() for w in region_adapter.model.get_weights()]
    with randomised_top(region_adapter.model, 2, seed=0) as names:
        assert names == ["predictions", "conv2"]
        assert not np.array_equal(region_adapter.model.get_weights()[2], before[2])
    for now, then in zip(region_adapter.model.get_weights(), before):
        np.testing.assert_array_equal(now, then)


def test_area_and_rank_correlation_on_small_arrays():
    assert area(np.array([1.0, 1.0, 1.0])) == pytest.approx(1.0)
    assert area(np.array([1.0, 0.0])) == pytest.approx(0.5)
    assert area(np.array([0.0, 1.0, 0.0])) == pytest.approx(0.5)
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert rank_correlation(a, a * 10 + 1) == pytest.approx(1.0)
    assert rank_correlation(a, -a) == pytest.approx(-1.0)
    assert rank_correlation(a, np.ones((2, 2))) is None


@pytest.mark.parametrize("texts, expected", [
    ((), ("gradcam", "smoothgrad")),
    (("ig,gradcam",), ("integrated-gradients", "gradcam")),
    (("Grad-CAM++", "saliency", "gradients"), ("gradcam++", "gradients")),
    (("all",), tuple(METHODS)),
])
def test_methods_are_parsed_with_aliases(texts, expected):
    assert parse_methods(texts) == expected


def test_an_unknown_method_names_the_closest():
    with pytest.raises(DreamerError, match="unknown method 'gradcm'; closest: gradcam"):
        parse_methods(["gradcm"])


def test_the_api_explains_a_keras_model_and_an_array():
    import dreamer

    result = dreamer.explain(region_photo(), region_classifier_model(), "gradcam", preprocess="unit", samples=2)
    assert result.target == "class 0" and result.maps["gradcam"].shape == (32, 32)


# -- the command -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def region_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "region.keras"
    region_classifier_model().save(path)
    return path


def photos(folder):
    from PIL import Image

    folder.mkdir()
    Image.fromarray((region_photo() * 255).astype(np.uint8)).save(folder / "red.png")
    save_photo(folder / "noise.png", size=(40, 36))
    return folder


def test_the_command_writes_figures_maps_json_and_the_trust_table(runner, region_file, workdir):
    from dreamer.cli import main

    args = ["explain", str(photos(workdir / "in")), "--model", str(region_file), "--preprocess", "unit",
            "--method", "gradcam,ig", "--samples", "4", "--check", "--sheet", "-o", "maps"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    stem = workdir / "maps" / "red_region_explain"
    for suffix in (".png", ".json", "_gradcam.png", "_gradcam.npy", "_integrated-gradients.npy"):
        assert (stem.parent / (stem.name + suffix)).is_file(), suffix
    record = json.loads(stem.with_suffix(".json").read_text())
    assert record["target"] == "class 0" and record["methods"] == ["gradcam", "integrated-gradients"]
    assert record["settings"]["samples"] == 4 and record["trust"]["gradcam"]["randomisation"]
    heat = np.load(stem.parent / (stem.name + "_gradcam.npy"))
    assert heat.shape == (32, 32) and share_inside(heat) > 0.8
    assert (workdir / "maps" / "explain_sheet.png").is_file()
    assert "integrated-gradients" in result.output and "rho top-1" in result.output
    again = runner.invoke(main, args)
    assert again.exit_code == 0 and "already done" in again.output and "all 2 results" in again.output  # resumed
    assert (workdir / "maps" / "explain_sheet_1.png").is_file()  # the first sheet is kept


@pytest.mark.parametrize("extra, message", [
    (["--method", "gradcm"], "unknown method 'gradcm'"),
    (["--cam-layer", "pool"], "layer 'pool' has no spatial extent"),
    (["--class", "9"], "class 9 is out of range"),
    (["--target", "conv2:99"], "channel 99 is out of range"),
    (["--class", "0", "--target", "conv2:1"], "give --class or --target, not both"),
])
def test_bad_input_is_one_line_and_exit_2(runner, region_file, workdir, extra, message):
    from dreamer.cli import main

    save_photo(workdir / "p.png", size=(32, 32))
    result = runner.invoke(main, ["explain", "p.png", "--model", str(region_file), "--preprocess", "unit", *extra])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (workdir / "outputs" / "explain" / "p_region_explain.png").exists()


@pytest.mark.parametrize("extra, message", [
    (["--class", "tabbby"], "closest: tabby"),
    (["--cam-layer", "top_activaton"], "closest: top_activation"),
    (["--target", "block5c_ad:3"], "closest: block5c_add"),
])
def test_a_registered_model_s_names_are_checked_before_tensorflow(workdir, extra, message):
    import subprocess
    import sys

    save_photo(workdir / "p.png", size=(32, 32))
    code = ("import sys; from dreamer.cli import main\n"
            "try:\n    main(['explain', 'p.png', *sys.argv[1:]], standalone_mode=True)\n"
            "finally:\n    print('TF', 'tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, *extra], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and message in done.stderr and "TF False" in done.stdout


def test_a_class_asked_of_a_model_without_class_output_is_refused(runner, model_file, workdir):
    from dreamer.cli import main

    save_photo(workdir / "p.png", size=(32, 32))
    result = runner.invoke(main, ["explain", "p.png", "--model", str(model_file), "--class", "3"])
    assert result.exit_code == 2 and "has no class output" in result.output


@pytest.mark.real_model
def test_the_default_model_explains_the_cat():
    import dreamer

    result = dreamer.explain("samples/chelsea.png", methods=["gradcam"], size=96)
    assert "cat" in result.target and result.maps["gradcam"].shape == (96, 144)
