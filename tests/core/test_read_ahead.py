"""core.read_ahead: images decoded (and prepared) ahead of the model, in order, bounded."""

import threading
from pathlib import Path

import pytest

from core.errors import ImageReadError
from core.read_ahead import read_ahead
from core.records import ImageRef
from tests.support.models import random_image


def _refs(n):
    return [ImageRef(Path(f"/data/img{i}.png")) for i in range(n)]


def test_items_come_in_input_order_with_their_errors():
    def read(ref):
        if ref.name == "img2.png":
            raise ImageReadError(ref.path, "not an image")
        return random_image(seed=1, name=ref.name)

    items = list(read_ahead(_refs(5), read, prepare=lambda im: ("ready", im.ref.name)))
    assert [it.ref.name for it in items] == [f"img{i}.png" for i in range(5)]
    bad = items[2]
    assert bad.image is None and bad.prepared is None
    assert isinstance(bad.error, ImageReadError) and "not an image" in str(bad.error)
    assert all(it.error is None and it.prepared == ("ready", it.ref.name) for i, it in
               enumerate(items) if i != 2)  # fmt: skip


def test_a_failed_preparation_is_left_to_the_predictor():
    """Handed over unprepared (the Predictor prepares it again and raises where failure
    isolation catches it), not turned into a read error."""

    def prepare(im):
        raise ValueError("cannot resize")

    (item,) = read_ahead(_refs(1), lambda r: random_image(seed=1, name=r.name), prepare)
    assert item.image is not None and item.prepared is None and item.error is None


def test_reads_stay_bounded_ahead_of_the_consumer():
    started = []
    lock = threading.Lock()

    def read(ref):
        with lock:
            started.append(ref.name)
        return random_image(seed=1, name=ref.name)

    items = read_ahead(_refs(40), read, depth=4, workers=2)
    first = next(items)
    assert first.ref.name == "img0.png"
    # depth submitted before the first item is yielded, none beyond
    assert len(started) <= 4
    for _ in range(5):
        next(items)
    assert len(started) <= 6 + 4
    items.close()  # the consumer stops early: what was queued is dropped, not read
    assert len(started) <= 6 + 4


def test_each_file_is_read_once():
    counts: dict[str, int] = {}

    def read(ref):
        counts[ref.name] = counts.get(ref.name, 0) + 1
        return random_image(seed=1, name=ref.name)

    assert len(list(read_ahead(_refs(20), read, depth=3))) == 20
    assert set(counts.values()) == {1} and len(counts) == 20


@pytest.mark.parametrize("depth", [1, 2])
def test_tiny_depths(depth):
    items = list(read_ahead(_refs(3), lambda r: random_image(seed=1, name=r.name), depth=depth))
    assert [it.ref.name for it in items] == ["img0.png", "img1.png", "img2.png"]
