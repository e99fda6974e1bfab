"""Requests spread over the replicas of one compose service (lesson 08's scaled API).

The client runs on the project's network and asks for `http://SERVICE:PORT/hits` by name n times, each
time with a fresh connection and a fresh look-up through the engine's DNS, as a client that does not pin
an address would: which replica answers is the engine's DNS and the client's resolver's doing, not this
script's. The service answers with its host name, the count it keeps in its own memory (`process`) and
the count it keeps in a shared store (`shared`). Then the script asks each address the name resolves to
for `/predict?x=2.5`: replicas of one image must answer alike.
"""

from __future__ import annotations

import json

from layerlab.engine import compose_probes, replay
from layerlab.engine.compose import Project
from layerlab.engine.result import Replayable

SPREAD = r"""
import json, socket, sys, urllib.request
service, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ips = sorted({a[4][0] for a in socket.getaddrinfo(service, port, proto=socket.IPPROTO_TCP)})
seen = []
for i in range(n):  # urllib opens a new connection, and resolves the name again, for every request
    with urllib.request.urlopen(f"http://{service}:{port}/hits", timeout=5) as r:
        seen.append(json.loads(r.read()))
ys = []
for ip in ips:
    with urllib.request.urlopen(f"http://{ip}:{port}/predict?x=2.5", timeout=5) as r:
        ys.append(json.loads(r.read())["y"])
print(json.dumps({"ips": ips, "hits": seen, "predictions": ys}))
"""


class Spread(Replayable):
    """n requests spread over every replica of a service, which each resolve by the service's one name."""

    replicas: int  # addresses the service's name resolved to
    requests: int
    per_replica: dict[str, int]  # container host name -> requests it counted in its own memory (absent: none)
    shared: int  # the counter kept in the shared store after the n requests
    predictions: list[float]  # /predict?x=2.5 from each replica


def spread_live(p: Project, image: str, n: int = 30, *, service: str, port: int) -> Spread:
    out = compose_probes.run_script(p, image, SPREAD, [service, str(port), str(n)])
    r = json.loads(out.strip().splitlines()[-1])
    per: dict[str, int] = {}
    for h in r["hits"]:
        per[h["host"]] = max(per.get(h["host"], 0), h["process"])
    return Spread(
        replicas=len(r["ips"]),
        requests=n,
        per_replica=per,
        shared=max(h["shared"] or 0 for h in r["hits"]),
        predictions=r["predictions"],
    )


# The key names the project and the count (not the service), as the recordings of lesson 08 were made.
spread = replay.replayable("compose-spread", lambda p, image, n=30, **kw: f"{p.name}|{n}", Spread)(spread_live)
