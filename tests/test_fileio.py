"""Atomic writes and the cache folder."""

from __future__ import annotations

import os

import pytest

from dreamer.fileio import atomic_path, default_cache_dir


def test_atomic_path_gives_files_the_usual_mode(tmp_path):
    with atomic_path(tmp_path / "f.txt") as tmp:
        tmp.write_text("x")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o666 & ~mask


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    (tmp_path / "f.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "f.txt") as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]
    assert (tmp_path / "f.txt").read_text() == "old"


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({"DREAMER_CACHE_DIR": "/x/y", "XDG_CACHE_HOME": "/c"}, "/x/y"),
        ({"XDG_CACHE_HOME": "/c"}, "/c/dreamer"),
        ({"HOME": "/home/u"}, os.path.expanduser("~/.cache/dreamer")),
    ],
)
def test_default_cache_dir(environ, expected):
    assert str(default_cache_dir(environ)) == expected
