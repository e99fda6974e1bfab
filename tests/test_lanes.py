"""engine.lanes: tasks start once what they wait for is done, two run together, and a failure stops new starts
without abandoning the ones running."""

from __future__ import annotations

import threading
import time

import pytest

from layerlab.engine import lanes


def test_independent_tasks_run_together():
    # Each waits for the other to have started: run one after the other, the first would time out.
    started = {"a": threading.Event(), "b": threading.Event()}
    met = []

    def meet(me: str, other: str):
        def work(say):
            started[me].set()
            met.append(started[other].wait(timeout=10))

        return work

    lanes.run([lanes.Task("a", meet("a", "b")), lanes.Task("b", meet("b", "a"))], say=lambda line: None)
    assert met == [True, True]


def test_a_task_starts_only_after_what_it_waits_for():
    order: list[str] = []

    def note(name: str):
        return lambda say: order.append(name)

    lanes.run(
        [
            lanes.Task("python-full", note("python-full"), after=("python-slim",)),
            lanes.Task("python-slim", note("python-slim"), after=("debian",)),
            lanes.Task("cuda-base", note("cuda-base"), after=("debian",)),
            lanes.Task("debian", note("debian"), after=("rootfs amd64", "rootfs arm64")),
            lanes.Task("rootfs amd64", note("rootfs amd64")),
            lanes.Task("rootfs arm64", note("rootfs arm64")),
        ],
        say=lambda line: None,
    )
    assert sorted(order) == sorted(
        ["python-full", "python-slim", "cuda-base", "debian", "rootfs amd64", "rootfs arm64"]
    )
    at = {name: i for i, name in enumerate(order)}
    assert at["debian"] > max(at["rootfs amd64"], at["rootfs arm64"])
    assert at["python-slim"] > at["debian"] and at["cuda-base"] > at["debian"]
    assert at["python-full"] > at["python-slim"]


def test_a_failure_is_raised_as_it_was_after_the_running_task_finished_and_nothing_new_started():
    release = threading.Event()
    finished: list[str] = []
    lines: list[str] = []

    def slow(say):
        release.wait(timeout=10)
        finished.append("slow")

    def broken(say):
        release.set()
        raise KeyError("the build broke")

    tasks = [
        lanes.Task("slow", slow),
        lanes.Task("broken", broken),
        lanes.Task("after broken", lambda say: finished.append("after broken"), after=("broken",)),
        lanes.Task("after slow", lambda say: finished.append("after slow"), after=("slow",)),
    ]
    with pytest.raises(KeyError, match="the build broke"):
        lanes.run(tasks, say=lines.append)
    assert finished == ["slow"]
    assert lines == ["broken failed; what had started was let finish, nothing after it was started"]


def test_lines_from_two_tasks_are_never_mixed():
    lines: list[str] = []
    in_say = threading.Lock()
    overlaps = []

    def say(line: str):
        # A printer that would interleave characters if two threads were inside it at once.
        if not in_say.acquire(blocking=False):
            overlaps.append(line)
            return
        try:
            time.sleep(0.0001)  # gives the other thread its turn, inside the printer
            lines.append(line)
        finally:
            in_say.release()

    def chatty(name: str):
        def work(printer):
            for i in range(100):
                printer(f"{name} {i}")

        return work

    lanes.run([lanes.Task("a", chatty("a")), lanes.Task("b", chatty("b"))], say=say)
    assert overlaps == [] and len(lines) == 200


@pytest.mark.parametrize(
    "tasks, problem",
    [
        ([lanes.Task("a", lambda say: None, after=("nowhere",))], "not there: nowhere"),
        (
            [lanes.Task("a", lambda say: None, after=("b",)), lanes.Task("b", lambda say: None, after=("a",))],
            "wait for each other: a, b",
        ),
    ],
)
def test_tasks_that_can_never_start_are_refused(tasks, problem):
    with pytest.raises(ValueError, match=problem):
        lanes.run(tasks, say=lambda line: None)
