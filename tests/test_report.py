"""dream report: the site's pages and files, its reruns, a real browser over it, and the CLI's early errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
from browser import check_site, chromium, screenshot
from tiny_models import red_square_folder, redness_model, tiny_classifier_model

from dreamer.report import ReportRequest, build_report
from dreamer.report.files import histogram
from dreamer.report.pages import Tile, image_page, page

needs_chromium = pytest.mark.skipif(chromium() is None, reason="no chromium on PATH (CI installs it: .ci/run)")
SMALL = ReportRequest(layers=("red1", "red2"), per_layer=3, k=3, size=64, batch=4, render_steps=4, render_size=48,
                      attribution=())


@pytest.fixture(scope="module")
def red_adapter():
    from dreamer.models import adapter_for_keras

    return adapter_for_keras(redness_model(), "redness", "unit")


def store_of(adapter, tmp_path, size=64):
    from dreamer.dataset.examples import store_for

    return store_for(adapter, tmp_path / "cache", size)


def test_pages_escape_what_the_data_puts_in_them():
    text = image_page("<b>.png", Tile("files/a.jpg", 'say "hi"'), [("cat & dog", 0.5)], [])
    assert "<b>.png" not in text and "&lt;b&gt;.png" in text and "cat &amp; dog" in text
    assert 'href="../style.css"' in page("t", "", depth=1)


def test_the_histogram_marks_the_top_scores():
    image = np.asarray(histogram(np.arange(10.0), marks=[9.0], size=(50, 20)))
    assert image.shape == (20, 50, 3)
    assert tuple(image[-1, -1]) == (200, 30, 30) and tuple(image[-1, 0]) == (255, 255, 255)


def test_the_site_is_written_and_a_rerun_reuses_everything_and_more_images_run_alone(red_adapter, tmp_path):
    folder = red_square_folder(tmp_path / "photos", count=5)[0][0].parent
    site = tmp_path / "site"
    first = build_report(red_adapter, folder, site, SMALL, store_of(red_adapter, tmp_path))
    assert (first.images, first.computed, first.rendered) == (5, 5, 6)
    for name in ("index.html", "images.html", "style.css", "filter.js", "layers/red1.html", "layers/red2.html"):
        assert (site / name).is_file(), name
    assert len(list((site / "images").glob("*.html"))) == 5
    assert "red2" in (site / "index.html").read_text()
    again = build_report(red_adapter, folder, site, SMALL, store_of(red_adapter, tmp_path))
    assert (again.computed, again.rendered) == (0, 0)
    red_square_folder(tmp_path / "photos" / "more", count=2, size=(70, 64))
    more = build_report(red_adapter, folder, site, SMALL, store_of(red_adapter, tmp_path))
    assert (more.images, more.computed) == (7, 2)
    assert json.loads((site / "report.json").read_text())["images"] == 7


def test_a_rerun_adds_the_layers_asked_for_and_refuses_a_folder_it_did_not_make(red_adapter, tmp_path):
    from dataclasses import replace

    from dreamer.errors import DreamerError
    from dreamer.models import adapter_for_keras

    folder = red_square_folder(tmp_path / "photos", count=3)[0][0].parent
    site = tmp_path / "site"
    build_report(red_adapter, folder, site, replace(SMALL, layers=("red2",)), store_of(red_adapter, tmp_path))
    added = build_report(red_adapter, folder, site, replace(SMALL, layers=("red1",)), store_of(red_adapter, tmp_path))
    assert added.layers == ("red1", "red2") and added.computed == 3
    assert 'href="layers/red1.html"' in (site / "index.html").read_text()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "index.html").write_text("my own page")
    with pytest.raises(DreamerError, match="not a dream report site"):
        build_report(red_adapter, folder, tmp_path / "mine", SMALL, store_of(red_adapter, tmp_path))
    assert (tmp_path / "mine" / "index.html").read_text() == "my own page"
    other = adapter_for_keras(redness_model(name="other"), "other", "unit")
    with pytest.raises(DreamerError, match="report of model 'redness'"):
        build_report(other, folder, site, SMALL, store_of(other, tmp_path))


def test_without_dream_explain_the_attribution_section_is_left_out(red_adapter, tmp_path, monkeypatch):
    from dataclasses import replace

    import dreamer.report.build as build

    monkeypatch.setattr(build, "explain_available", lambda: False)
    folder = red_square_folder(tmp_path / "photos", count=2)[0][0].parent
    build_report(red_adapter, folder, tmp_path / "site", replace(SMALL, attribution=("gradcam",)),
                 store_of(red_adapter, tmp_path))
    assert "attribution" not in next((tmp_path / "site" / "images").glob("*.html")).read_text()
    assert not (tmp_path / "site" / "files" / "attributions").exists()


def test_with_dream_explain_each_image_page_shows_its_attribution_maps_made_once(tmp_path):
    pytest.importorskip("dreamer.attribution", reason="dream explain (issue 22) is not in this dreamer")
    from dataclasses import replace

    from dreamer.models import adapter_for_keras
    adapter = replace(adapter_for_keras(tiny_classifier_model(), "tiny_classifier", "unit"),
                      labels=[f"class{i}" for i in range(10)])
    folder = red_square_folder(tmp_path / "photos", count=2)[0][0].parent
    site = tmp_path / "site"
    request = replace(SMALL, layers=("conv3",), attribution=("gradcam",))
    build_report(adapter, folder, site, request, store_of(adapter, tmp_path))
    maps = sorted((site / "files" / "attributions").glob("*_gradcam.png"))
    assert len(maps) == 2
    page_text = next((site / "images").glob("*.html")).read_text()
    assert "attribution" in page_text and "top classes" in page_text
    made = [m.stat().st_mtime_ns for m in maps]
    build_report(adapter, folder, site, request, store_of(adapter, tmp_path))
    assert [m.stat().st_mtime_ns for m in maps] == made


def test_with_a_probe_the_index_shows_each_layers_scores_and_the_answer(red_adapter, tmp_path):
    from dataclasses import replace

    folder = red_square_folder(tmp_path / "photos", count=7)[0][0].parent
    red_square_folder(tmp_path / "photos" / "more", count=5, size=(64, 64))
    site = tmp_path / "site"
    build_report(red_adapter, folder, site, replace(SMALL, probe="hflip"), store_of(red_adapter, tmp_path))
    index = (site / "index.html").read_text()
    assert "hflip: invariance" in index and "hflip: decodable" in index and "probe (hflip):" in index


@needs_chromium
def test_the_site_opens_in_chromium_with_no_broken_image_or_link(red_adapter, tmp_path):
    from dataclasses import replace

    folder = red_square_folder(tmp_path / "photos", count=4)[0][0].parent
    site = tmp_path / "site"
    with_maps = replace(SMALL, attribution=("gradcam",))  # shown (and checked) where dream explain is installed
    build_report(red_adapter, folder, site, with_maps, store_of(red_adapter, tmp_path))
    found = check_site(site / "index.html")
    assert found == {"pages": 2 + 2 + 4, "broken": [], "deadLinks": []}
    shot = screenshot(site / "layers" / "red2.html", tmp_path / "red2.png")
    from PIL import Image

    assert Image.open(shot).size == (1200, 900)


@needs_chromium
def test_the_browser_check_sees_a_broken_image_and_a_dead_link(red_adapter, tmp_path):
    folder = red_square_folder(tmp_path / "photos", count=3)[0][0].parent
    site = tmp_path / "site"
    build_report(red_adapter, folder, site, SMALL, store_of(red_adapter, tmp_path))
    next((site / "files" / "thumbs").glob("*.jpg")).unlink()
    (site / "layers" / "red1.html").unlink()
    found = check_site(site / "index.html")
    assert len(found["broken"]) == 2 and found["deadLinks"] == [(site / "layers" / "red1.html").as_uri()]


@pytest.mark.parametrize("arguments, message", [
    (["report", "--images", "EMPTY", "-o", "site"], "no images in this folder"),
    (["report", "--images", "MISSING", "-o", "site"], "not a folder of images"),
    (["report", "--images", "PHOTOS", "-o", "site", "-l", "block5c_addd"], "unknown layer 'block5c_addd'"),
    (["report", "--images", "PHOTOS", "-o", "site", "--probe", "twirl"], "twirl"),
    (["examples", "PHOTOS", "-l", "block5c_add", "--channels", "112"], "channel 112 is out of range"),
    (["examples", "EMPTY"], "no images in this folder"),
    (["examples", "PHOTOS", "--channels", "1", "--most-active", "3"], "give one of"),
])
def test_bad_input_is_one_line_and_exit_2_before_tensorflow(tmp_path, arguments, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no pictures")
    photos = red_square_folder(tmp_path / "photos", count=1)[0][0].parent
    names = {"EMPTY": str(tmp_path / "empty"), "MISSING": str(tmp_path / "missing"), "PHOTOS": str(photos)}
    arguments = [names.get(a, a) for a in arguments]
    code = ("import sys; from dreamer.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    print('tensorflow' in sys.modules, file=sys.stderr); raise")
    done = subprocess.run([sys.executable, "-c", code, *arguments], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert lines == [lines[0], "False"] and message in lines[0], done.stderr


def test_a_layer_without_spatial_extent_is_refused_in_one_line(runner, classifier_file, tmp_path):
    from dreamer.cli import main

    photos = red_square_folder(tmp_path / "photos", count=2)[0][0].parent
    result = runner.invoke(main, ["examples", str(photos), "--model", str(classifier_file), "-l", "predictions"])
    assert result.exit_code == 2 and "no spatial extent" in result.output, result.output


def test_dream_examples_writes_a_sheet_per_channel_and_json(runner, tmp_path):
    from dreamer.cli import main

    red_model = redness_model()
    red_model.save(tmp_path / "red.keras")
    photos = red_square_folder(tmp_path / "photos", count=4)[0][0].parent
    result = runner.invoke(main, ["examples", str(photos), "--model", str(tmp_path / "red.keras"), "--preprocess",
                                  "unit", "-l", "red2", "--channels", "0,2", "-k", "2", "--size", "64", "-o", "out",
                                  "-q"])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "out" / "examples.json").read_text())
    assert [c["channel"] for c in record["channels"]] == [0, 2]
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["red2_0.png", "red2_2.png"]
    again = runner.invoke(main, ["examples", str(photos), "--model", str(tmp_path / "red.keras"), "--preprocess",
                                 "unit", "-l", "red2", "--channels", "1", "--size", "64", "-o", "out", "-q"])
    assert again.exit_code == 0 and (tmp_path / "out" / "examples_1.json").is_file()


def generated_photos(folder, count: int, seed: int = 0):
    """``count`` seeded 96x96 JPEGs of coloured rectangles and stripes (quick to make and decode)."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        image = Image.new("RGB", (96, 96), tuple(int(v) for v in rng.integers(0, 256, 3)))
        draw = ImageDraw.Draw(image)
        for _ in range(4):
            x, y = rng.integers(0, 80, 2)
            w, h = rng.integers(8, 48, 2)
            colour = tuple(int(v) for v in rng.integers(0, 256, 3))
            draw.rectangle([int(x), int(y), int(x + w), int(y + h)], fill=colour)
        image.save(folder / f"gen{i:03d}.jpg", quality=85)


@pytest.mark.real_model
@needs_chromium
def test_the_default_model_report_over_samples_and_generated_images_opens_and_reruns_fast(tmp_path):
    import shutil
    from pathlib import Path

    from dreamer.dataset.examples import store_for
    from dreamer.fileio import default_cache_dir
    from dreamer.models import load_model

    folder = tmp_path / "photos"
    folder.mkdir()
    for sample in (Path(__file__).resolve().parent.parent / "samples").glob("*.*"):
        if sample.suffix.lower() in (".png", ".jpg"):  # the six photos, not the sub-folders of coins
            shutil.copy(sample, folder)
    generated_photos(folder / "generated", 250)
    adapter = load_model("efficientnet-lite0", default_cache_dir())
    request = ReportRequest(layers=("block3b_add", "block5c_add"), per_layer=4, k=4, batch=32, render_steps=8,
                            render_size=64, attribution=())
    store = store_for(adapter, tmp_path / "cache", request.size)
    started = time.perf_counter()
    first = build_report(adapter, folder, tmp_path / "site", request, store)
    first_seconds = time.perf_counter() - started
    started = time.perf_counter()
    again = build_report(adapter, folder, tmp_path / "site", request, store)
    again_seconds = time.perf_counter() - started
    assert first.images == 256 and first.computed == 256 and again.computed == 0 and again.rendered == 0
    assert again_seconds < 0.5 * first_seconds, (first_seconds, again_seconds)
    found = check_site(tmp_path / "site" / "index.html")
    assert found["broken"] == [] and found["deadLinks"] == [] and found["pages"] == 2 + 2 + 256
    assert "top classes" in next((tmp_path / "site" / "images").glob("*.html")).read_text()
