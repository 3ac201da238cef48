"""inception5h (GoogLeNet) on a tiny GraphDef with the same op names; never a real download."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image
from tiny_graphs import LABELS, sha256, tiny_inception_graph_bytes, write_inception_zip
from tiny_models import save_photo

from dreamer.cli import main
from dreamer.errors import ModelError
from dreamer.models import download, find_spec, inception5h, load_model, model_architecture


@pytest.fixture(scope="module")
def graph_bytes():
    return tiny_inception_graph_bytes()


@pytest.fixture
def published(monkeypatch, graph_bytes, tmp_path):
    """Make the tiny graph and its zip "the published files"; the network is never reached."""
    zip_path = write_inception_zip(tmp_path / "inception5h.zip", graph_bytes)
    monkeypatch.setattr(inception5h, "GRAPH_SHA256", sha256(graph_bytes))
    monkeypatch.setattr(inception5h, "ZIP_SHA256", sha256(zip_path.read_bytes()))
    calls = []

    def offline(url, destination, digest, progress):
        calls.append(url)
        raise download.DownloadError(f"{url}: cannot download (no network in tests)")

    monkeypatch.setattr(inception5h, "fetch", offline)
    return zip_path, calls


def cache_files(cache):
    return sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file())


def test_static_layers_need_no_file():
    adapter = model_architecture("googlenet")
    assert adapter.name == "inception5h" and adapter.default_layer == "mixed4c"
    assert adapter.layer_info("mixed4c").channels == 512
    names = adapter.layer_names()
    for classic in inception5h.CLASSIC_LAYERS:
        assert classic in names
    assert names.index("conv2d0") < names.index("mixed3a") < names.index("mixed4c") < names.index("mixed5b")
    assert adapter.layer_info("mixed5b").channels == 1024 and adapter.layer_info("mixed4a").channels == 508
    assert adapter.layer_info("mixed4d_3x3_bottleneck_pre_relu").channels == 144
    assert find_spec("inception-v1").name == "inception5h"


def test_preprocess_is_0_255_minus_117():
    x = np.array([[[[0.0, 0.5, 1.0]]]], np.float32)
    np.testing.assert_allclose(np.asarray(inception5h.preprocess(x)), [[[[-117.0, 10.5, 138.0]]]])


def test_zip_from_weights_installs_and_dreams(published, tmp_path, photo):
    from dreamer.api import objective_gradient
    from dreamer.objectives import combine

    zip_path, calls = published
    cache = tmp_path / "cache"
    adapter = load_model("inception5h", cache, zip_path)
    assert cache_files(cache) == ["inception5h/imagenet_comp_graph_label_strings.txt",
                                  "inception5h/tensorflow_inception_graph.pb"]
    assert adapter.labels == LABELS and not calls
    features = adapter.feature_model(["mixed4c", "conv2d0_pre_relu"])(adapter.preprocess(photo[None]))
    assert features["mixed4c"].shape == (1, 12, 16, 12)
    assert features["conv2d0_pre_relu"].shape == (1, 24, 32, 8)
    gradient = objective_gradient(adapter, combine("mixed4c"))
    for shape in ((48, 64), (37, 53)):
        grad, loss = gradient(photo[: shape[0], : shape[1]])
        assert grad.shape == shape + (3,) and loss > 0 and np.abs(grad).sum() > 0


def test_other_graph_ops_can_be_named_once_loaded(published, tmp_path):
    adapter = load_model("inception5h", tmp_path / "cache", published[0])
    assert adapter.layer_info("mixed4c_3x3_pre_relu/conv").channels == 6
    with pytest.raises(ModelError, match="unknown layer 'mixed9z'"):
        adapter.layer_info("mixed9z")


def test_cached_copy_is_used_without_network(published, tmp_path):
    zip_path, calls = published
    cache = tmp_path / "cache"
    load_model("inception5h", cache, zip_path)
    adapter = load_model("inception5h", cache)
    assert adapter.labels == LABELS and not calls


def test_pb_from_weights_with_labels_beside(published, graph_bytes, tmp_path):
    folder = tmp_path / "handed"
    folder.mkdir()
    (folder / "tensorflow_inception_graph.pb").write_bytes(graph_bytes)
    (folder / "imagenet_comp_graph_label_strings.txt").write_text("\n".join(LABELS))
    adapter = load_model("inception5h", tmp_path / "cache", folder / "tensorflow_inception_graph.pb")
    assert adapter.labels == LABELS


@pytest.mark.parametrize("what", ["zip", "pb"])
def test_wrong_file_is_refused_and_nothing_is_cached(published, graph_bytes, tmp_path, what):
    other = tiny_inception_graph_bytes(seed=1)
    path = write_inception_zip(tmp_path / "other.zip", other) if what == "zip" else tmp_path / "other.pb"
    if what == "pb":
        path.write_bytes(other)
    cache = tmp_path / "cache"
    with pytest.raises(ModelError, match="SHA-256 is .* expected"):
        load_model("inception5h", cache, path)
    assert cache_files(cache) == []


def test_damaged_cache_is_fetched_again(published, tmp_path):
    zip_path, calls = published
    cache = tmp_path / "cache"
    load_model("inception5h", cache, zip_path)
    (cache / "inception5h" / "tensorflow_inception_graph.pb").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="needs tensorflow_inception_graph.pb"):
        load_model("inception5h", cache)
    assert len(calls) == 1
    assert "inception5h/tensorflow_inception_graph.pb" not in cache_files(cache)


def test_offline_error_says_what_where_and_how(published, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(ModelError) as info:
        load_model("inception5h", cache)
    message = str(info.value)
    for text in ("tensorflow_inception_graph.pb", inception5h.URL, "--weights", "DREAMER_INCEPTION5H",
                 str(cache / "inception5h")):
        assert text in message
    assert "\n" not in message
    assert cache_files(cache) == []


def test_download_is_checked_and_extracted(monkeypatch, published, tmp_path):
    zip_path, _ = published
    seen = []

    def fake_fetch(url, destination, digest, progress):
        assert url == inception5h.URL and digest == inception5h.ZIP_SHA256
        destination.write_bytes(zip_path.read_bytes())
        progress(destination.stat().st_size, destination.stat().st_size)
        return destination

    monkeypatch.setattr(inception5h, "fetch", fake_fetch)
    cache = tmp_path / "cache"
    adapter = load_model("inception5h", cache, progress=lambda done, total: seen.append((done, total)))
    assert adapter.labels == LABELS and seen
    assert cache_files(cache) == ["inception5h/imagenet_comp_graph_label_strings.txt",
                                  "inception5h/tensorflow_inception_graph.pb"]


def test_zip_members_are_taken_by_exact_name_only(published, graph_bytes, tmp_path):
    evil = {"../../evil.txt": "x", "/abs/evil.pb": "y", "inception5h/other.txt": "z"}
    path = write_inception_zip(tmp_path / "nested.zip", graph_bytes, extra=evil, folder="inception5h/")
    cache = tmp_path / "cache"
    load_model("inception5h", cache, path)
    assert cache_files(cache) == ["inception5h/imagenet_comp_graph_label_strings.txt",
                                  "inception5h/tensorflow_inception_graph.pb"]
    assert not (tmp_path / "evil.txt").exists()


def test_zip_without_the_graph_is_an_error(published, tmp_path):
    path = tmp_path / "empty.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("README", "nothing")
    with pytest.raises(ModelError, match="has no tensorflow_inception_graph.pb"):
        load_model("inception5h", tmp_path / "cache", path)


class FakeResponse(io.BytesIO):
    def __init__(self, body: bytes, length: int):
        super().__init__(body)
        self.headers = {"Content-Length": str(length)}


def test_truncated_download_leaves_no_file(tmp_path):
    final = tmp_path / "cache" / "file.zip"
    opener = lambda url, timeout: FakeResponse(b"12345", 10)  # noqa: E731
    with pytest.raises(download.DownloadError, match="cut short"):
        download.download("https://example.invalid/file.zip", final, None, None, opener)
    assert list((tmp_path / "cache").iterdir()) == []


def test_download_checks_the_hash_and_reports_progress(tmp_path):
    body = b"inception" * 1000
    seen = []
    opener = lambda url, timeout: FakeResponse(body, len(body))  # noqa: E731
    final = tmp_path / "file.bin"
    with pytest.raises(download.ChecksumError):
        download.download("https://example.invalid/f", final, "0" * 64, None, opener)
    assert not final.exists() and list(tmp_path.iterdir()) == []
    download.download("https://example.invalid/f", final, sha256(body), lambda d, t: seen.append((d, t)), opener)
    assert final.read_bytes() == body and seen[-1] == (len(body), len(body))


def test_network_error_is_a_download_error(tmp_path):
    def refuse(url, timeout):
        raise OSError("Network is unreachable")

    with pytest.raises(download.DownloadError, match="Network is unreachable"):
        download.download("https://example.invalid/f", tmp_path / "f", None, None, refuse)


def test_cli_mixed4c_exactly_as_typed(runner, published, tmp_path, monkeypatch):
    monkeypatch.setenv("DREAMER_INCEPTION5H", str(published[0]))
    save_photo(tmp_path / "input.jpg")
    result = runner.invoke(main, ["--layer", "mixed4c", "input.jpg", "-i", "2", "--octaves", "2", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "using inception5h" in result.output
    out = tmp_path / "outputs" / "input_inception5h_mixed4c.png"
    assert Image.open(out).size == (64, 48)


def test_cli_offline_error_is_one_line(runner, published, tmp_path):
    save_photo(tmp_path / "input.jpg")
    result = runner.invoke(main, ["--model", "googlenet", "input.jpg"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "--weights inception5h.zip" in result.output
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").iterdir())


def test_cli_layers_and_classify(runner, published, tmp_path):
    result = runner.invoke(main, ["layers", "--model", "inception5h"])
    assert result.exit_code == 0
    assert "* mixed4c" in result.output and "512" in result.output and inception5h.URL in result.output
    save_photo(tmp_path / "input.jpg")
    result = runner.invoke(main, ["classify", "--model", "inception5h", "--weights", str(published[0]), "-k", "2",
                                  "input.jpg"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 3 and all(any(label in line for label in LABELS) for line in lines[1:])


def test_cli_download_shows_a_progress_bar_on_stderr(runner, published, tmp_path, monkeypatch):
    zip_path, _ = published
    body = zip_path.read_bytes()

    def fake_fetch(url, destination, digest, progress):
        for done in (0, len(body) // 2, len(body)):
            progress(done, len(body))
        destination.write_bytes(body)
        return destination

    monkeypatch.setattr(inception5h, "fetch", fake_fetch)
    save_photo(tmp_path / "input.jpg")
    result = runner.invoke(main, ["classify", "--model", "inception5h", "input.jpg"])
    assert result.exit_code == 0, result.output
    assert "downloading weights" in result.stderr  # (not a tty: click prints the label only)
    assert "downloading" not in result.stdout
    result = runner.invoke(main, ["classify", "--model", "inception5h", "input.jpg"])
    assert "downloading" not in result.output  # cached now
