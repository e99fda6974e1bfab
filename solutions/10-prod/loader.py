"""A data loader's shape: worker processes fill batches in shared memory, the main process reads them.

As PyTorch's DataLoader does with its worker processes, each worker keeps `prefetch` batches ready in
/dev/shm at once, so the loader needs about workers x prefetch x batch bytes of it. Arguments:
workers prefetch batch_mb. Prints one JSON line; exits 1 naming the cause when a worker dies.
"""

import json
import multiprocessing as mp
import os
import signal
import sys
from multiprocessing import shared_memory

import numpy as np


def work(worker: int, prefetch: int, batch: int, ready: "mp.Queue") -> None:
    names = []
    for i in range(prefetch):
        # track=False: the workers exit before the main process reads; the tracker must not unlink what they leave.
        shm = shared_memory.SharedMemory(create=True, size=batch, track=False)
        # Writing touches every page: on a full /dev/shm the kernel answers with SIGBUS, not an exception.
        np.ndarray((batch // 4,), dtype=np.float32, buffer=shm.buf)[:] = worker + i
        names.append(shm.name)
        shm.close()
    ready.put(names)


def main() -> int:
    workers, prefetch, batch_mb = (int(a) for a in sys.argv[1:4])
    batch = batch_mb * 1024 * 1024
    st = os.statvfs("/dev/shm")
    shm_bytes = st.f_blocks * st.f_frsize
    ready: mp.Queue = mp.Queue()
    procs = [mp.Process(target=work, args=(w, prefetch, batch, ready)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    dead = [(i, p.exitcode) for i, p in enumerate(procs) if p.exitcode != 0]
    total = 0.0
    while not ready.empty():
        for name in ready.get():
            shm = shared_memory.SharedMemory(name=name, track=False)
            total += float(np.ndarray((batch // 4,), dtype=np.float32, buffer=shm.buf)[0])
            shm.close()
            shm.unlink()
    report = {"workers": workers, "prefetch": prefetch, "batch_bytes": batch, "shm_bytes": shm_bytes,
              "needed_bytes": workers * prefetch * batch, "ok": not dead, "checksum": total}
    if dead:
        worker, code = dead[0]
        cause = signal.Signals(-code).name if code and code < 0 else f"exit {code}"
        report["error"] = (f"loader worker {worker} was killed by {cause}: /dev/shm ({shm_bytes // 2**20} MiB) "
                           f"is smaller than the {workers} x {prefetch} batches of {batch_mb} MiB it holds at once")
        for name in os.listdir("/dev/shm"):  # what the dead workers left behind
            if name.startswith("psm_"):
                os.unlink(os.path.join("/dev/shm", name))
    print(json.dumps(report), flush=True)
    return 0 if not dead else 1


if __name__ == "__main__":
    sys.exit(main())
