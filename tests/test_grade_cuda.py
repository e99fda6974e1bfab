"""Exercise 06-cuda: a binary copied without its runtime library fails the check
that names the missing library, and only the checks that depend on it."""

from __future__ import annotations

import shutil

import pytest

from layerlab.course import REPO
from layerlab.grade import fixture as fixture_mod
from layerlab.grade.runner import grade

pytestmark = [pytest.mark.usefixtures("engine_client"), pytest.mark.slow]

SOLUTION = REPO / "solutions" / "06-cuda"
FINAL = "FROM nvidia/cuda:12.4.1-base-ubuntu22.04\n"


def graded(tmp_path, final_from: str):
    d = tmp_path / "06-cuda"
    shutil.copytree(SOLUTION, d, ignore=shutil.ignore_patterns("fixture.json"))
    text = (d / "Dockerfile").read_text()
    assert FINAL in text
    (d / "Dockerfile").write_text(text.replace(FINAL, final_from))
    r = grade(d, "06-cuda", fixture=fixture_mod.load("06-cuda"))
    assert "Traceback" not in r.table()
    return {x.check: x for x in r.results}, r


@pytest.mark.answers
def test_a_binary_without_its_runtime_library_fails_with_the_library_named(engine_client, tmp_path):
    results, r = graded(tmp_path, "FROM debian:trixie-slim\n")
    libs = results["libraries_resolve"]
    assert libs.status == "failed", r.table()
    assert "libcudart.so.12" in libs.detail and "libcudart.so.12" in libs.hint
    assert results["runs_and_prints"].status == "failed"
    assert results["paths_absent"].status == "passed" and results["runs_as_non_root"].status == "passed"
