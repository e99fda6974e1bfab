"""Score two customers with the unlocked model: the image works only if the unlock step ran."""

import json
from pathlib import Path

model = json.loads(Path(__file__).with_name("model.json").read_text())
for name, x in model["customers"].items():
    score = sum(w * v for w, v in zip(model["weights"], x)) + model["bias"]
    print(f"{name}: {score:.2f} ({model['name']})")
