"""ground.machine_lock: one holder at a time; the second says it waits, and goes on once the first lets go."""

from __future__ import annotations

import threading
import time

from layerlab.ground import machine_lock


def test_a_second_holder_says_it_waits_and_gets_the_lock_when_the_first_lets_go(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERLAB_CACHE", str(tmp_path))
    said: list[str] = []
    events: list[str] = []

    def second():
        with machine_lock.held("thing", said.append, "waiting for the thing"):
            events.append("second holds")

    with machine_lock.held("thing", said.append, "never said"):
        t = threading.Thread(target=second)
        t.start()
        deadline = time.monotonic() + 5
        while not said and time.monotonic() < deadline:
            time.sleep(0.01)
        events.append("first lets go")
    t.join(timeout=5)
    assert said == ["waiting for the thing"]
    assert events == ["first lets go", "second holds"]


def test_locks_of_other_names_do_not_wait_for_each_other(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERLAB_CACHE", str(tmp_path))
    said: list[str] = []
    with machine_lock.held("one", said.append, "waited"), machine_lock.held("two", said.append, "waited"):
        pass
    assert said == []
