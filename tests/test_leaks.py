"""The token scanner and the lock of lesson 09, on hand-made images: no engine needed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from layerlab.course import REPO
from layerlab.engine import cicache
from layerlab.measure import leaks
from ocitar import write_image

UNLOCKERS = [REPO / "docker" / "lessons" / "09-shipping" / "secrets" / "app" / "unlock.py"]


def test_a_locked_file_opens_with_its_token_only():
    token = leaks.new_token()
    locked = leaks.lock(b'{"w": 1}', token)
    assert token.encode() not in locked and b'"w"' not in locked
    assert leaks.unlock(locked, token) == b'{"w": 1}'
    with pytest.raises(ValueError, match="wrong token"):
        leaks.unlock(locked, leaks.new_token())


@pytest.mark.parametrize("unlock_py", UNLOCKERS, ids=["lesson"])
def test_the_images_unlock_script_agrees_with_the_library(unlock_py, tmp_path):
    token = leaks.new_token()
    (tmp_path / "t").write_text(token + "\n")
    (tmp_path / "m.enc").write_bytes(leaks.lock(b"plain text", token))
    ok = subprocess.run(
        [sys.executable, str(unlock_py), str(tmp_path / "t"), str(tmp_path / "m.enc"), str(tmp_path / "m")],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "m").read_bytes() == b"plain text"
    (tmp_path / "t").write_text(leaks.new_token())
    bad = subprocess.run(
        [sys.executable, str(unlock_py), str(tmp_path / "t"), str(tmp_path / "m.enc"), str(tmp_path / "x")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "wrong token" in bad.stderr


def test_a_mask_shows_four_characters_and_the_length():
    token = "llt_" + "a1" * 16
    assert leaks.mask(token) == "llt_…(36 chars)" and "a1a1" not in leaks.mask(token)


def test_a_token_copied_then_deleted_is_found_in_its_layer_and_named_as_deleted(tmp_path):
    token = leaks.new_token()
    archive = write_image(
        tmp_path / "leaky.tar",
        [
            [("/app", "dir", None), ("/app/serve.py", "file", b"print('hi')\n")],
            [("/tmp/unlock.token", "file", token.encode() + b"\n")],
            [("/tmp/unlock.token", "whiteout", None)],
        ],
        created_by=[
            "COPY serve.py /app/",
            "COPY unlock.token /tmp/unlock.token",
            "RUN /bin/sh -c rm /tmp/unlock.token",
        ],
    )
    scan = leaks.scan_archive(archive, token, host="linux/amd64")
    assert [(p.kind, p.path) for p in scan.places] == [("layer", "/tmp/unlock.token")]
    assert "layer 2/3" in scan.places[0].where and "deleted by layer 3" in scan.places[0].detail
    assert scan.layers == 3 and scan.files == 2
    assert token not in scan.table() and token[4:] not in scan.table()


def test_a_token_in_the_history_is_found_and_masked(tmp_path):
    token = leaks.new_token()
    archive = write_image(
        tmp_path / "arg.tar",
        [[("/app/x", "file", b"x")]],
        created_by=[f"RUN |1 UNLOCK_TOKEN={token} /bin/sh -c python3 unlock.py - # buildkit"],
    )
    scan = leaks.scan_archive(archive, token, host="linux/amd64")
    assert scan.kinds() == {"history"}
    assert "UNLOCK_TOKEN=" + leaks.mask(token) in scan.places[0].detail
    assert token not in scan.table()


def test_a_clean_image_is_clean_and_an_empty_read_is_an_error(tmp_path):
    archive = write_image(tmp_path / "clean.tar", [[("/app/x", "file", b"nothing here")]])
    assert not leaks.scan_archive(archive, leaks.new_token(), host="linux/amd64").found
    with pytest.raises(ValueError, match="no image"):
        leaks.scan_archive(archive, leaks.new_token(), host="linux/arm64")


def test_replant_relocks_for_the_new_token(tmp_path):
    old, new = leaks.new_token(), leaks.new_token()
    (tmp_path / "unlock.token").write_text(old + "\n")
    (tmp_path / "model.enc").write_bytes(leaks.lock(b"model", old))
    leaks.replant(tmp_path, "unlock.token", ["model.enc"], new)
    assert (tmp_path / "unlock.token").read_text().strip() == new
    assert leaks.unlock((tmp_path / "model.enc").read_bytes(), new) == b"model"
    (tmp_path / "unlock.token").write_text("changed by hand")
    with pytest.raises(leaks.Replant, match="does not unlock"):
        leaks.replant(tmp_path, "unlock.token", ["model.enc"], leaks.new_token())


DU = """ID:		aaa
Parent:		base
Created at:	2026-11-27 03:21:12 +0000 UTC
Description:	mount / from exec /bin/sh -c echo "ci-run r0123456789" > /etc/ci-run && python3 -m venv /opt/venv
Size:		16MB

ID:		bbb
Parent:		aaa
Description:	[builder 3/4] COPY requirements.txt /tmp/

ID:		ccc
Parent:		bbb
Description:	mount / from exec /bin/sh -c pip install -r /tmp/requirements.txt

ID:		other
Parent:		base
Description:	mount / from exec /bin/sh -c echo "ci-run r9999999999" > /etc/ci-run

ID:		base
Description:	pulled from docker.io/library/python:3.13-slim
"""


def test_a_ci_run_owns_only_the_records_below_its_marked_steps():
    records = cicache.parse_du(DU)
    mine = cicache.own_records("r0123456789", records)
    assert [r.id for r in mine] == ["ccc", "bbb", "aaa"], "children first, never the base or another run's"


# The same records as newer buildx prints them: `--format pretty` lists parents one per line (a record may
# have two: a COPY onto a stage), `--format json` gives them as a list.
DU_PRETTY = """ID:\t\taaa
Parents:
 - base
Description:\tmount / from exec /bin/sh -c echo "ci-run r0123456789" > /etc/ci-run
Shared:\t\tfalse

ID:\t\tbbb*
Parents:
 - aaa
 - other
Description:\t[builder 3/4] COPY requirements.txt /tmp/

ID:\t\tother
Parents:
 - base
Description:\tmount / from exec /bin/sh -c echo "ci-run r9999999999" > /etc/ci-run

ID:\t\tbase
Description:\tpulled from docker.io/library/python:3.13-slim
"""

DU_JSON = "\n".join(
    json.dumps(r)
    for r in [
        {"ID": "aaa", "Parents": ["base"], "Description": 'exec echo "ci-run r0123456789"', "Size": 16000000},
        {"ID": "bbb", "Parents": ["aaa", "other"], "Description": "COPY requirements.txt /tmp/"},
        {"ID": "other", "Parents": ["base"], "Description": 'exec echo "ci-run r9999999999"'},
        {"ID": "base", "Description": "pulled from docker.io/library/python:3.13-slim"},
    ]
)


@pytest.mark.parametrize("records", [cicache.parse_du(DU_PRETTY), cicache.parse_du_json(DU_JSON)])
def test_newer_buildx_parents_one_per_line_or_as_json_are_followed_too(records):
    assert {r.id: r.parents for r in records}["bbb"] == ["aaa", "other"]
    assert [r.id for r in cicache.own_records("r0123456789", records)] == ["bbb", "aaa"]


def test_the_runner_dockerfile_carries_the_run_id(tmp_path):
    src = REPO / "docker" / "lessons" / "09-shipping" / "ci" / "Dockerfile"
    out = cicache.runner_dockerfile(src, "r0123456789", tmp_path / "Dockerfile").read_text()
    assert cicache.MARK not in out and out.count("ci-run r0123456789") == 2
    with pytest.raises(ValueError, match="marker"):
        cicache.runner_dockerfile(
            REPO / "docker" / "lessons" / "09-shipping" / "greet" / "Dockerfile", "r1", tmp_path / "x"
        )
