"""Settings you can keep (TOML files, the user's config, presets) and results you can re-run (again, info)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from tiny_models import save_photo

from dreamer.api import dream
from dreamer.cli import main
from dreamer.config import DreamConfig
from dreamer.configfile import check_value, load_settings, setting_name, user_config_path
from dreamer.errors import DreamerError
from dreamer.images import read_metadata
from dreamer.presets import PRESETS, preset_settings


def tiny(model_file, *extra):
    return ["--model", str(model_file), "--preprocess", "unit", "--layer", "conv3", *extra]


def pixels(path):
    return np.asarray(Image.open(path))


@pytest.fixture(autouse=True)
def no_user_config(tmp_path, monkeypatch):
    """Each test starts without the real user's config file."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


# -- TOML files ---------------------------------------------------------------------------------


def test_toml_file_sets_options_and_the_command_line_overrides_it(runner, model_file, workdir):
    save_photo(workdir / "a.png")
    (workdir / "look.toml").write_text(
        f'model = "{model_file}"\npreprocess = "unit"\nlayer = ["conv2"]\niterations = 2\noctave-scale = 1.6\n'
        'octaves = 2\nseed = 11\noutput = "kept/"\n')
    result = runner.invoke(main, ["--config", "look.toml", "--iterations", "3", "a.png"])
    assert result.exit_code == 0, result.output
    meta = read_metadata(workdir / "kept" / "a_tiny_conv2.png")
    assert (meta["iterations"], meta["octave_scale"], meta["octaves"], meta["seed"]) == (3, 1.6, 2, 11)


@pytest.mark.parametrize("text, message", [
    ("iteratons = 3", "'iteratons' is not a setting of dream (did you mean iterations?)"),
    ("iterations = 0", "iterations = 0: 0 is not in the range"),
    ("step-size = \"big\"", "step-size = 'big': 'big' is not a valid float"),
    ("octave-scale = nan", "is not a number above 1"),
    ("overwrite = \"yes\"", "overwrite = 'yes': should be true or false"),
    ("iterations = [1, 2]", "should be one value, not a list"),
    ("iterations = ", "not valid TOML"),
    ("[dream]\niterations = 3", "[dream] is a table"),
    ("preset = \"deeep\"", "no preset named 'deeep'; try deep"),
    ("guide = \"missing.png\"", "guide = 'missing.png'"),
])
def test_a_bad_key_or_value_is_one_line_naming_file_and_key_before_any_work(runner, model_file, workdir, text,
                                                                             message):
    save_photo(workdir / "a.png")
    (workdir / "bad.toml").write_text(text + "\n")
    result = runner.invoke(main, [*tiny(model_file), "--config", "bad.toml", "a.png"])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "bad.toml" in result.output or "preset" in text
    assert not (workdir / "outputs").exists()


def test_missing_config_file_is_an_error(runner, workdir):
    result = runner.invoke(main, ["--config", "nowhere.toml", "a.png"])
    assert result.exit_code == 2 and "nowhere.toml: no such settings file" in result.output


def test_user_config_gives_defaults_and_show_config_says_where_each_came_from(runner, model_file, workdir):
    user = user_config_path()
    user.parent.mkdir(parents=True)
    user.write_text(f'model = "{model_file}"\niterations = 7\nprecision = "float32"\n')
    (workdir / "look.toml").write_text("iterations = 5\njitter = 3\n")
    result = runner.invoke(main, ["--show-config", "--config", "look.toml", "--preset", "subtle", "--jitter", "4"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert "5" in rows["--iterations"] and "(config look.toml)" in rows["--iterations"]
    assert "4" in rows["--jitter"] and "(command line)" in rows["--jitter"]
    assert "0.8" in rows["--step-size"] and "(preset subtle)" in rows["--step-size"]
    assert "float32" in rows["--precision"] and f"(user config {user})" in rows["--precision"]
    assert "(default)" in rows["--tv"]


def test_user_config_applies_to_a_run(runner, model_file, workdir):
    user = user_config_path()
    user.parent.mkdir(parents=True)
    user.write_text(f'model = "{model_file}"\npreprocess = "unit"\nlayer = "conv2"\niterations = 1\noctaves = 1\n')
    save_photo(workdir / "a.png")
    assert runner.invoke(main, ["a.png", "--seed", "2"]).exit_code == 0
    meta = read_metadata(workdir / "outputs" / "a_tiny_conv2.png")
    assert (meta["iterations"], meta["octaves"], meta["seed"]) == (1, 1, 2)


def test_relative_paths_in_a_file_are_relative_to_the_file(runner, model_file, workdir):
    (workdir / "cfg").mkdir()
    save_photo(workdir / "cfg" / "guide.png")
    shutil.copy(model_file, workdir / "cfg" / "mine.keras")
    (workdir / "cfg" / "look.toml").write_text('guide = "guide.png"\nmodel = "mine.keras"\n')
    result = runner.invoke(main, ["--show-config", "--config", "cfg/look.toml"])
    assert result.exit_code == 0 and "cfg/guide.png" in result.output and "cfg/mine.keras" in result.output


def test_api_reads_the_same_file(model_file, workdir, photo):
    (workdir / "look.toml").write_text(
        'preset = "classic"\nlayer = "conv2"\niterations = 2\noctaves = 2\noutput = "ignored/"\nseed = 4\n')
    chosen = load_settings(workdir / "look.toml")
    assert chosen["layers"] == "conv2" and chosen["step_size"] == 1.5 and "output" not in chosen
    result = dream((photo * 255).astype(np.uint8), model=model_file, preprocess="unit", **chosen)
    info = result.info["dreamer"]
    assert (info["iterations"], info["octaves"], info["octave_scale"], info["seed"]) == (2, 2, 1.4, 4)


def test_api_refuses_a_bad_file_naming_file_and_key(workdir):
    (workdir / "bad.toml").write_text("octaves = -1\n")
    with pytest.raises(DreamerError, match="bad.toml: octaves"):
        load_settings(workdir / "bad.toml")
    (workdir / "bad.toml").write_text("colour = 1\n")
    with pytest.raises(DreamerError, match="bad.toml: colour: not a setting"):
        load_settings(workdir / "bad.toml")


def test_keys_are_option_names_or_python_names():
    assert [setting_name(k) for k in ("layer", "class", "octave-scale", "laplacian", "laplacian_levels")] == [
        "layers", "classes", "octave_scale", "laplacian_levels", "laplacian_levels"]


# -- presets ------------------------------------------------------------------------------------


def test_presets_are_listed_with_a_description(runner):
    result = runner.invoke(main, ["presets"])
    assert result.exit_code == 0
    for name in ("subtle", "classic", "deep", "print"):
        assert name in result.output and PRESETS[name].description in result.output


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_preset_from_the_cli_and_the_api(runner, model_file, workdir, photo, name):
    save_photo(workdir / "a.png", size=(96, 80))
    expected = {k: v for k, v in preset_settings(name).items() if k != "layers"}
    result = runner.invoke(main, [*tiny(model_file), "--preset", name, "--iterations", "1", "--seed", "1", "a.png"])
    assert result.exit_code == 0, result.output
    meta = read_metadata(workdir / "outputs" / "a_tiny_conv3.png")
    assert all(meta[k] == v for k, v in {**expected, "iterations": 1}.items()), meta
    api = dream((photo * 255).astype(np.uint8), model=model_file, preprocess="unit", preset=name, layers="conv3",
                iterations=1, seed=1).info["dreamer"]
    assert all(api[k] == v for k, v in {**expected, "iterations": 1}.items()), api


def test_preset_layers_exist_in_the_default_model():
    from dreamer.models import model_architecture

    names = set(model_architecture("efficientnet-lite0").layer_names())
    for preset in PRESETS.values():
        for term in preset.settings["layers"]:
            assert all(part.strip() in names for part in term.split("+")), preset.name


# -- again and info -----------------------------------------------------------------------------


def test_again_renders_the_same_pixels_and_options_change_it(runner, model_file, workdir):
    save_photo(workdir / "a.png")
    assert runner.invoke(main, [*tiny(model_file), "-i", "3", "--octaves", "2", "a.png", "-o", "r.png"]).exit_code == 0
    result = runner.invoke(main, ["again", "r.png"])
    assert result.exit_code == 0, result.output
    assert np.array_equal(pixels(workdir / "r.png"), pixels(workdir / "r_again.png"))
    assert runner.invoke(main, ["again", "r.png", "-o", "more.png", "--iterations", "5"]).exit_code == 0
    assert read_metadata(workdir / "more.png")["iterations"] == 5
    assert not np.array_equal(pixels(workdir / "r.png"), pixels(workdir / "more.png"))


def test_again_reproduces_a_batch_result_from_another_folder(runner, model_file, workdir, monkeypatch):
    (workdir / "photos").mkdir()
    save_photo(workdir / "photos" / "a.png")
    assert runner.invoke(main, [*tiny(model_file), "-i", "2", "--octaves", "2", "photos", "-o", "out"]).exit_code == 0
    (workdir / "elsewhere").mkdir()
    monkeypatch.chdir(workdir / "elsewhere")
    result = runner.invoke(main, ["again", "../out/a_tiny_conv3.png", "-o", "copy.png"])
    assert result.exit_code == 0, result.output
    assert np.array_equal(pixels(workdir / "out" / "a_tiny_conv3.png"), pixels(workdir / "elsewhere" / "copy.png"))


def test_again_finds_no_input_or_no_settings_or_no_model_in_one_line(runner, model_file, workdir):
    shutil.copy(model_file, workdir / "m.keras")
    save_photo(workdir / "a.png")
    args = ["--model", "m.keras", "--preprocess", "unit", "-i", "1", "--octaves", "1", "a.png", "-o", "r.png"]
    assert runner.invoke(main, args).exit_code == 0
    Image.new("RGB", (8, 8)).save(workdir / "plain.png")
    (workdir / "a.png").rename(workdir / "moved.png")
    cases = [(["again", "plain.png"], "carries no dreamer settings"),
             (["again", "r.png"], "is not there; give the input with --input IMG")]
    for args, message in cases:
        result = runner.invoke(main, args)
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert runner.invoke(main, ["again", "r.png", "--input", "moved.png", "-q"]).exit_code == 0
    (workdir / "m.keras").unlink()
    result = runner.invoke(main, ["again", "r.png", "--input", "moved.png", "-q"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.strip().splitlines() == [f"Error: model file not found: {workdir / 'm.keras'}"]


def test_info_prints_settings_readably_and_as_json(runner, model_file, workdir):
    save_photo(workdir / "a.png")
    assert runner.invoke(main, [*tiny(model_file), "-i", "2", "--seed", "9", "a.png", "-o", "r.png"]).exit_code == 0
    text = runner.invoke(main, ["info", "r.png"])
    assert text.exit_code == 0
    assert "seed" in text.output and "9" in text.output and "iterations" in text.output
    as_json = runner.invoke(main, ["info", "--json", "r.png"])
    assert json.loads(as_json.output) == read_metadata(workdir / "r.png")


# -- every command reads its table; counts have bounds ----------------------------------------------


@pytest.mark.parametrize("command", ["atlas", "zoom", "video", "probe", "explain", "examples", "report"])
def test_every_command_takes_config_and_show_config(runner, command):
    result = runner.invoke(main, [command, "--help"])
    assert "--config FILE.toml" in result.output and "--show-config" in result.output


@pytest.mark.parametrize("args, message", [
    (["--iterations", "1000000000000"], "1000000000000 is not in the range 1<=x<=10000"),
    (["--octaves", "99"], "99 is not in the range 1<=x<=20"),
    (["--param", "fft", "--size", "100000"], "100000 is not in the range 16<=x<=4096"),
    (["--max-size", "8"], "8 is not in the range 16<=x<=65536"),
])
def test_counts_on_the_command_line_are_bounded(runner, workdir, args, message):
    save_photo(workdir / "a.png")
    result = runner.invoke(main, [*args, *([] if "--param" in args else ["a.png"])])
    assert result.exit_code == 2 and message in result.output
    assert not (workdir / "outputs").exists()


@pytest.mark.parametrize("text, message", [
    ("iterations = 1e12", "iterations = 1000000000000.0: should be a whole number from 1 to 10000"),
    ("iterations = 1.5", "iterations = 1.5: should be a whole number from 1 to 10000"),
    ("iterations = 1000000000000", "1000000000000 is not in the range 1<=x<=10000"),
    ("max-size = 2.5", "max-size = 2.5: should be a whole number from 16 to 65536"),
    ("variants = true", "variants = True: should be a whole number from 1 to 64"),
])
def test_counts_in_a_file_are_whole_and_bounded_before_any_work(runner, workdir, text, message):
    save_photo(workdir / "a.png")
    (workdir / "bad.toml").write_text(text + "\n")
    result = runner.invoke(main, ["--config", "bad.toml", "a.png"])
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (workdir / "outputs").exists()


@pytest.mark.parametrize("command, text, message", [
    ("atlas", "[atlas]\nvariants = 1.5", "variants = 1.5: should be a whole number from 1 to 64"),
    ("probe", "[probe]\nfolds = 1e3", "folds = 1000.0: should be a whole number from 2 to 100"),
    ("video", "[video]\nmax-frames = 0", "max-frames = 0: 0 is not in the range 1<=x<=10000000"),
    ("zoom", "[zoom]\nframes = 1e12", "frames = 1000000000000.0: should be a whole number from 1 to 100000"),
])
def test_each_commands_counts_are_checked_by_the_same_rule(runner, workdir, command, text, message):
    (workdir / "clip.mp4").write_bytes(b"")
    (workdir / "bad.toml").write_text(text + "\n")
    result = runner.invoke(main, [command, "--config", "bad.toml", *(["clip.mp4"] if command == "video" else [])])
    assert result.exit_code == 2, result.output
    assert message in result.output


@pytest.mark.parametrize("command, text, flag, shown", [
    ("explain", '[explain]\nmethod = ["gradcam", "ig"]\nbatch = 4', "--batch", "4"),
    ("examples", "[examples]\ntop = 3", "--top", "3"),
    ("report", "[report]\nper-layer = 5", "--per-layer", "5"),
])
def test_explain_examples_and_report_read_their_own_table(runner, workdir, command, text, flag, shown):
    (workdir / "look.toml").write_text(f"iterations = 3\n{text}\n")
    result = runner.invoke(main, [command, "--config", "look.toml", "--show-config"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.split()[:1] == [flag])
    assert row.split()[1] == shown and f"[{command}]" in row
    (workdir / "bad.toml").write_text(f"[{command}]\n{flag[2:]} = 100000\n")
    refused = runner.invoke(main, [command, "--config", "bad.toml", "--show-config"])
    assert refused.exit_code == 2 and "is not in the range" in refused.output


def test_api_settings_refuse_counts_out_of_range_and_not_whole():
    with pytest.raises(DreamerError, match=r"iterations must be a whole number from 1 to 10000 \(not 1000000000000\)"):
        DreamConfig(iterations=10**12)
    with pytest.raises(DreamerError, match="iterations must be a whole number"):
        DreamConfig(iterations=1.5)
    with pytest.raises(DreamerError, match="bad.toml: iterations: iterations must be a whole number"):
        check_value("iterations", 1e12, "bad.toml: iterations")


def test_show_config_shows_the_flags_a_user_types(runner, workdir):
    result = runner.invoke(main, ["--show-config", "--param", "fft", "--size", "64"])
    assert result.exit_code == 0, result.output
    names = [line.split()[0] for line in result.output.splitlines() if line.startswith("-")]
    assert "--size" in names and "--class" in names and "--max-size" in names
    assert "noise_size" not in result.output and "Sentinel" not in result.output and "UNSET" not in result.output
    assert all(name.startswith("--") for name in names)


@pytest.mark.parametrize("command", [[], ["atlas"], ["zoom"], ["video"], ["probe"], ["explain"], ["examples"],
                                     ["report"]])
def test_show_config_of_every_command_lists_every_option_by_its_flag(runner, workdir, command):
    result = runner.invoke(main, [*command, "--show-config"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("-")]
    assert rows and all(row.split()[0].startswith("--") for row in rows)
    assert "Sentinel" not in result.output and "UNSET" not in result.output
