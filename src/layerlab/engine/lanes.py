"""Run tasks that depend on one another as soon as what they need is done, a few at a time.

Base-image set-up is two chains that meet only at the root: the arm64 root filesystem beside the amd64 one, the
CUDA images beside the python ones. Run one after another, a 2-core machine leaves a core idle for minutes
(qemu runs one process; apt downloads wait on the network). Each task's lines go through one lock so that two tasks
never print into the middle of each other's line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from layerlab.ground.text import Printer


@dataclass(frozen=True)
class Task:
    name: str
    work: Callable[[Printer], None]
    after: tuple[str, ...] = field(default=())


def run(tasks: list[Task], say: Printer, at_once: int = 2) -> None:
    """Run `tasks`, each once every task named in its `after` is done, at most `at_once` together.

    A task's printer is `say`, serialised. The first failure stops new starts; once the running tasks are done
    (no build is left half-way in the engine) it is raised as it was, after a line naming the task.
    """
    names = {t.name for t in tasks}
    unknown = sorted({a for t in tasks for a in t.after} - names)
    if unknown:
        raise ValueError(f"tasks wait for tasks that are not there: {', '.join(unknown)}")
    lock = threading.Lock()

    def locked(line: str) -> None:
        with lock:
            say(line)

    done: set[str] = set()
    waiting = list(tasks)
    running: dict[Future[None], Task] = {}
    failure: tuple[Task, BaseException] | None = None
    with ThreadPoolExecutor(max_workers=at_once) as pool:
        while waiting or running:
            if failure is None:
                for t in [t for t in waiting if set(t.after) <= done][: at_once - len(running)]:
                    waiting.remove(t)
                    running[pool.submit(t.work, locked)] = t
            if not running:
                if failure is None:
                    raise ValueError("tasks wait for each other: " + ", ".join(t.name for t in waiting))
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in finished:
                t = running.pop(f)
                err = f.exception()
                if err is None:
                    done.add(t.name)
                elif failure is None:
                    failure = (t, err)
    if failure is not None:
        say(f"{failure[0].name} failed; what had started was let finish, nothing after it was started")
        raise failure[1]
