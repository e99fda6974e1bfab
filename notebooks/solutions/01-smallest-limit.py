# Challenge 01-smallest-limit: one solution.
# Try limits from 64 MiB upwards in 16 MiB steps; the first that lets HOG finish is the answer.
from layerlab.course.lesson import Lesson

smallest = None
for mib in range(64, 512, 16):
    r = Lesson("01").run("python:3.13-slim", ["python", "-c", HOG], memory=f"{mib}m", timeout=60)
    print(f"{mib} MiB: exit {r.exit_code}, OOM killed {r.oom_killed}")
    if r.ok:
        smallest = mib
        break
# The answer is above 160 MiB: the limit counts the interpreter and everything it holds, not only the data.
