"""dreamer.outputs: where results go, and names that never overwrite."""

from __future__ import annotations

from pathlib import Path

import pytest

from dreamer.errors import DreamerError
from dreamer.outputs import Target, name_outputs, plan_outputs, safe_name


@pytest.mark.parametrize("text, name", [
    ("block5c_add", "block5c_add"),
    ("models/my net.keras", "my-net"),
    ("block5c_add:97 + 0.5*block4c_add", "block5c_add-97-+-0.5-block4c_add"),
    ("///", "dream"),
])
def test_safe_name(text, name):
    assert safe_name(text) == name


def test_one_input_and_a_file_name(tmp_path):
    assert plan_outputs([Path("a.png")], str(tmp_path / "sub" / "r.jpg")) == [
        Target(Path("a.png"), output=tmp_path / "sub" / "r.jpg")]
    assert (tmp_path / "sub").is_dir()


def test_an_unwritable_extension_is_refused_before_any_work(tmp_path):
    with pytest.raises(DreamerError):
        plan_outputs([Path("a.png")], str(tmp_path / "r.nope"))


def test_existing_names_and_twins_get_free_names(tmp_path):
    (tmp_path / "a_m_l.png").write_bytes(b"x")
    targets = [Target(Path("x/a.png"), folder=tmp_path), Target(Path("y/a.png"), folder=tmp_path),
               Target(Path("z/b.png"), folder=tmp_path)]
    named = name_outputs(targets, "m", "l", overwrite=False)
    assert [t.output.name for t in named] == ["a_m_l_1.png", "a_m_l_2.png", "b_m_l.png"]
    exists = f"{tmp_path / 'a_m_l.png'} exists; --overwrite replaces it"
    assert [t.renamed for t in named] == [exists, exists, ""]
    assert (tmp_path / "a_m_l.png").read_bytes() == b"x"


def test_a_twin_is_renamed_for_the_batch_not_the_disk(tmp_path):
    targets = [Target(Path("x/a.png"), folder=tmp_path), Target(Path("y/a.png"), folder=tmp_path)]
    named = name_outputs(targets, "m", "l", overwrite=True)
    assert [t.output.name for t in named] == ["a_m_l.png", "a_m_l_1.png"]
    assert [t.renamed for t in named] == ["", f"{tmp_path / 'a_m_l.png'} is taken by another input of this batch"]


def test_free_name_is_the_first_numbered_name_not_taken(tmp_path):
    from pathlib import PurePosixPath

    from dreamer.outputs import free_name, numbered

    wanted = tmp_path / "a.png"
    assert free_name(wanted) == wanted
    wanted.write_bytes(b"x")
    (tmp_path / "a_1.png").write_bytes(b"x")
    assert free_name(wanted) == tmp_path / "a_2.png"
    taken = {PurePosixPath("d/a.png"), PurePosixPath("d/a_1.png")}
    assert free_name(PurePosixPath("d/a.png"), taken.__contains__) == PurePosixPath("d/a_2.png")
    assert next(numbered(PurePosixPath("a.tar.png"))) == PurePosixPath("a.tar_1.png")


def test_ensure_folder_says_in_one_line_why_not(tmp_path):
    from dreamer.errors import DreamerError
    from dreamer.outputs import ensure_folder

    (tmp_path / "file").write_text("x")
    ensure_folder(tmp_path / "new" / "deeper")
    assert (tmp_path / "new" / "deeper").is_dir()
    with pytest.raises(DreamerError, match=r"file/sub: cannot create the output folder") as caught:
        ensure_folder(tmp_path / "file" / "sub")
    assert "\n" not in str(caught.value)
