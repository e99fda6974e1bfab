"""Reading `docker system df` ourselves: what the engines print, including answers python-on-whales rejects."""

from __future__ import annotations

import pytest

from layerlab.engine import clean
from layerlab.ground.text import decimal_bytes

# Printed by Docker 26.1.5 (containerd store) in CI after a clean: a negative "Reclaimable" that
# python-on-whales' DiskFreeResult fails to parse, which failed `layerlab clean` once.
NEGATIVE_RECLAIMABLE = "\n".join(
    [
        '{"Active":"1","Reclaimable":"-5.352e+07B (-633%)","Size":"8.446MB","TotalCount":"19","Type":"Images"}',
        '{"Active":"0","Reclaimable":"0B","Size":"0B","TotalCount":"0","Type":"Containers"}',
        '{"Active":"6","Reclaimable":"1.146GB","Size":"1.146GB","TotalCount":"61","Type":"Build Cache"}',
    ]
)


def test_the_image_size_is_read_when_the_engine_prints_a_negative_reclaimable():
    assert clean.image_size(NEGATIVE_RECLAIMABLE) == 8_446_000


def test_the_image_size_is_the_images_row_and_not_another():
    rows = '{"Type":"Build Cache","Size":"9GB"}\n\n{"Type":"Images","Size":"24.09GB"}\n'
    assert clean.image_size(rows) == 24_090_000_000


def test_a_numeric_size_and_no_images_row_are_answers_too():
    assert clean.image_size('{"Type":"Images","Size":123456}') == 123456
    assert clean.image_size("") == 0


@pytest.mark.parametrize(
    "text,expected",
    [("0B", 0), ("512kB", 512_000), ("8.446MB", 8_446_000), ("1.2e+07B", 12_000_000), ("2TB", 2 * 10**12)],
)
def test_docker_sizes_are_decimal(text, expected):
    assert decimal_bytes(text) == expected


@pytest.mark.parametrize("text", ["", "MB", "12 parsecs", "-"])
def test_what_is_not_a_size_is_refused(text):
    with pytest.raises(ValueError):
        decimal_bytes(text)
