"""The lessons' base images come from one place and reach the Dockerfiles as build args."""

from layerlab.course import lesson
from layerlab.measure import cache


def test_base_defaults_to_the_official_names(monkeypatch):
    monkeypatch.delenv("LAYERLAB_BASE_PYTHON_SLIM", raising=False)
    assert lesson.base("python-slim") == "python:3.13-slim"
    monkeypatch.setenv("LAYERLAB_BASE_PYTHON_SLIM", "example/official-like:1")
    assert lesson.base("python-slim") == "example/official-like:1"


def test_every_lesson_dockerfile_that_takes_a_base_arg_defaults_to_the_official_image(monkeypatch):
    monkeypatch.delenv("LAYERLAB_BASE_PYTHON_SLIM", raising=False)
    monkeypatch.delenv("LAYERLAB_BASE_PYTHON_FULL", raising=False)
    seen = 0
    for df in lesson.LESSONS.glob("*/*/Dockerfile"):
        text = df.read_text()
        for key, args in lesson.build_args(df).items():
            seen += 1
            assert f"ARG {key}={args}" in text, df  # readable by hand: the default is the official image
            assert f"FROM ${{{key}}}" in text, df
    assert seen >= 10  # lessons 03 and 04


def test_pin_changes_one_version_and_adds_a_nonce(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("numpy==2.3.1\nsix==1.17.0\n")
    assert cache.pin(lock, "six", "1.16.0") == "1.17.0"
    text = lock.read_text()
    assert "six==1.16.0" in text and "numpy==2.3.1" in text and "# edited" in text
