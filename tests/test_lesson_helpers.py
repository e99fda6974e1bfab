"""The helpers lessons call instead of plumbing in cells: scratch workspaces, the metadata-only
release, the lock's pin count and uv's install summary (offline: no engine)."""

from __future__ import annotations

from layerlab.course import lesson
from layerlab.measure import cache

# A step's log as buildlog keeps it: BuildKit's "#12 1.203 " prefix already removed.
UV_LOG = [
    "Using CPython 3.13.5 interpreter at: /usr/local/bin/python3",
    "Resolved 8 packages in 3ms",
    "Prepared 7 packages in 1.20s",
    "Installed 8 packages in 97ms",
    " + numpy==2.3.1",
]


def test_uv_install_reads_what_uv_prepared_and_how_long_it_took():
    said = cache.uv_install(UV_LOG)
    assert said.prepared == 7 and said.prepare_seconds == 1.2
    assert said.lines == ["Resolved 8 packages in 3ms", "Prepared 7 packages in 1.20s", "Installed 8 packages in 97ms"]
    milliseconds = cache.uv_install(["Prepared 1 package in 250ms"])
    assert milliseconds.prepared == 1 and milliseconds.prepare_seconds == 0.25


def test_uv_install_with_nothing_prepared_says_zero():
    said = cache.uv_install(["Resolved 8 packages in 3ms", "Audited 8 packages in 1ms"])
    assert said.prepared == 0 and said.prepare_seconds == 0.0 and said.lines == ["Resolved 8 packages in 3ms"]


def test_bump_version_changes_only_the_version_and_never_repeats(tmp_path):
    p = tmp_path / "pyproject.toml"
    p.write_text('[project]\nname = "app"\nversion = "0.1.0"\n\n[tool.x]\ntarget-version = "py311"\n')
    first, second = cache.bump_version(p), cache.bump_version(p)
    assert first != second
    text = p.read_text()
    assert f'version = "{second}"' in text and 'target-version = "py311"' in text and 'name = "app"' in text


def test_pinned_packages_counts_pins_not_comments_or_hashes(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("# pinned\nnumpy==2.3.1 \\\n    --hash=sha256:abc\nsix==1.17.0\n\n# a==1\n")
    assert cache.pinned_packages(lock) == 2


def test_a_workspace_is_a_fresh_copy_with_the_variant_and_its_clutter(tmp_path):
    here = lesson.LESSONS / "03-build-cache"
    clutter = {"data/features.bin": 1000, ".git/objects/x": 10}
    a = lesson.workspace("03-build-cache", "dockerignore", scratch=tmp_path, clutter=clutter)
    b = lesson.workspace("03-build-cache", "dockerignore", scratch=tmp_path, clutter=clutter)
    assert a != b and a.parent == tmp_path
    assert (a / "Dockerfile").read_text() == (here / "dockerignore" / "Dockerfile").read_text()
    assert (a / ".dockerignore").is_file() and (a / "predict.py").is_file()
    assert (a / "data/features.bin").read_bytes() == (b / "data/features.bin").read_bytes()  # the same bytes every run
    assert (a / "data/features.bin").stat().st_size == 1000
    (a / "predict.py").write_text("edited")
    assert (here / "app" / "predict.py").read_text() != "edited"
