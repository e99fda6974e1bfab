"""Run the compiled SAXPY and report its outcome as one JSON line.

The kernel is CUDA C++; the process an ML service runs around such a kernel is
Python. So the image needs the Python interpreter as well as the program and
every library the program loads: a final stage that forgets either fails here.
"""

import json
import subprocess
import sys

PROGRAM = "/usr/local/bin/saxpy"
# saxpy's own exit statuses; anything else means it did not start (127: the
# loader could not find a library it needs) or crashed.
OUTCOME = {0: "gpu-ok", 1: "gpu-error", 2: "no-gpu"}

done = subprocess.run([PROGRAM], capture_output=True, text=True)
sys.stdout.write(done.stdout)
sys.stdout.write(done.stderr)
print(json.dumps({"program": PROGRAM, "exit_status": done.returncode,
                  "outcome": OUTCOME.get(done.returncode, "did-not-run")}))
sys.exit(done.returncode)
