"""The 2015 inception5h graph's op set (old Concat, LRN, heads, a shapeless input), on a stand-in:
listed (at GoogLeNet's real widths throughout), dreamed on mixed4c and classified through (real
widths up to mixed4c, a narrower tail), as the registered model and as ``--model my_graph.pb``."""

from __future__ import annotations

import pytest
from classic_graph import classic_inception_graph_bytes, classic_labels
from PIL import Image
from tiny_graphs import sha256, write_inception_zip
from tiny_models import save_photo

from dreamer.cli import main
from dreamer.errors import ModelError, UnsafeFileError
from dreamer.models import inception5h, load_model
from dreamer.models.graphdef import ImportedGraph, read_graph_def
from dreamer.models.graphfile import listed_layers


@pytest.fixture(scope="module")
def classic(tmp_path_factory):
    """The stand-in as the published zip, and as a bare .pb with its labels beside it."""
    folder = tmp_path_factory.mktemp("classic")
    data = classic_inception_graph_bytes(tail_divisor=8)
    pb = folder / "tensorflow_inception_graph.pb"
    pb.write_bytes(data)
    labels = folder / "labels.txt"
    labels.write_text("\n".join(classic_labels()) + "\n")
    zip_path = write_inception_zip(folder / "inception5h.zip", data, classic_labels())
    return {"pb": pb, "zip": zip_path, "labels": labels, "graph_sha": sha256(data),
            "zip_sha": sha256(zip_path.read_bytes())}


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    """The stand-in at GoogLeNet's real widths throughout (imported, never run)."""
    path = tmp_path_factory.mktemp("full") / "full.pb"
    path.write_bytes(classic_inception_graph_bytes())
    return ImportedGraph(read_graph_def(path), "input")


@pytest.fixture
def published(monkeypatch, classic):
    monkeypatch.setattr(inception5h, "GRAPH_SHA256", classic["graph_sha"])
    monkeypatch.setattr(inception5h, "ZIP_SHA256", classic["zip_sha"])
    monkeypatch.setenv("DREAMER_INCEPTION5H", str(classic["zip"]))
    return classic


def test_the_stand_in_has_the_2015_op_set(graph):
    ops = {op.name: op.type for op in graph.graph.get_operations()}
    assert graph.tensor("input").shape.rank is None or graph.tensor("input").shape[1] is None
    assert ops["mixed4c"] == "Concat" and ops["mixed4c/concat_dim"] == "Const" and "ConcatV2" not in ops.values()
    assert ops["localresponsenorm0"] == ops["localresponsenorm1"] == "LRN"
    assert (ops["conv2d0_pre_relu/conv"], ops["conv2d0_pre_relu"], ops["conv2d0"]) == ("Conv2D", "BiasAdd", "Relu")
    assert ops["softmax1"] == "Softmax" and ops["nn0/reshape"] == "Reshape"
    assert ops["softmax2_pre_activation/matmul"] == "MatMul" and ops["avgpool0"] == "AvgPool"


def test_static_layer_list_is_the_graph_in_order(graph):
    """What `dream layers --model inception5h` lists without the file is what the graph has."""
    from_graph = [(info.name, info.channels) for info in listed_layers(graph)]
    assert from_graph == [(info.name, info.channels) for info in inception5h.LAYERS]


@pytest.mark.parametrize("size", [(224, 224), (150, 203)])
def test_static_shapes_are_the_graph_shapes(graph, size):
    names = [info.name for info in inception5h.LAYERS]
    inferred, static = graph.shapes_at(*size, names), inception5h.layer_shapes(*size)
    assert {n: s for n, s in static.items() if s[0]} == {n: s for n, s in inferred.items() if s}
    assert [n for n, s in static.items() if not s[0]] == [n for n, s in inferred.items() if not s]


def test_cli_dreams_and_classifies_through_the_classic_graph(runner, published, tmp_path):
    save_photo(tmp_path / "input.jpg")
    result = runner.invoke(main, ["--layer", "mixed4c", "input.jpg", "-i", "2", "--octaves", "2", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "outputs" / "input_inception5h_mixed4c.png").size == (64, 48)
    result = runner.invoke(main, ["classify", "--model", "inception5h", "-k", "2", "input.jpg"])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 3 and "class " in result.stdout


def test_own_graph_file_lists_and_dreams(runner, classic, tmp_path):
    save_photo(tmp_path / "input.jpg")
    pb = str(classic["pb"])
    result = runner.invoke(main, ["layers", "--model", pb])
    assert result.exit_code == 0, result.output
    assert "mixed4c " in result.stdout and "localresponsenorm1" in result.stdout and "/conv" not in result.stdout
    result = runner.invoke(main, ["--model", pb, "--preprocess", "mean=117,117,117;std=1,1,1", "--layer", "mixed4c",
                                  "-i", "1", "--octaves", "1", "--seed", "1", "input.jpg", "-o", "out.png"])
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "out.png").size == (64, 48)
    assert load_model(classic["pb"], tmp_path).classifier_output == "softmax2_pre_activation"


def test_graph_input_is_found_or_named(tmp_path):
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        a = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3], name="image")
        b = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3], name="other")
        tf.nn.relu(tf.nn.conv2d(a + b, tf.ones([3, 3, 3, 4]), 1, "SAME"), name="features")
    path = tmp_path / "two_inputs.pb"
    path.write_bytes(graph.as_graph_def().SerializeToString())
    with pytest.raises(ModelError, match="several inputs .*image, other.*--input-name"):
        load_model(path, tmp_path)
    adapter = load_model(path, tmp_path, input_name="image")
    assert "features" in adapter.layer_names()
    with pytest.raises(ModelError, match="no op 'nope'"):
        load_model(path, tmp_path, input_name="nope")


def test_graph_with_file_ops_is_refused(tmp_path):
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3], name="input")
        tf.io.write_file("/tmp/pwned", tf.strings.as_string(tf.reduce_sum(x)))
        tf.nn.relu(x, name="features")
    path = tmp_path / "risky.pb"
    path.write_bytes(graph.as_graph_def().SerializeToString())
    with pytest.raises(UnsafeFileError, match="WriteFile"):
        load_model(path, tmp_path)
