"""The library's results are pydantic models: every recording in replays/ loads into its model
and dumps back to the same JSON, and a recording that drifted from its model fails to load."""

import gzip
import importlib
import json
import pkgutil

import pydantic
import pytest

import layerlab
from layerlab.course import REPO
from layerlab.engine import replay
from layerlab.engine.build import BuildResult
from layerlab.engine.buildlog import Step

# Importing every module registers each replayable function's model under its kind.
for _m in pkgutil.walk_packages(layerlab.__path__, "layerlab."):
    importlib.import_module(_m.name)

RECORDINGS = sorted((REPO / "replays").glob("*/*.json.gz"))


def test_there_are_recordings_of_every_kind():
    assert RECORDINGS
    assert {p.parent.name for p in RECORDINGS} <= set(replay.MODELS), "a replays/ folder no replayable function writes"


def _loads(path):
    stored = json.loads(gzip.decompress(path.read_bytes()))
    errors = []
    for cls in replay.MODELS[path.parent.name]:
        try:
            return stored, cls.model_validate(stored["result"])
        except pydantic.ValidationError as e:
            errors.append(f"{cls.__name__}: {e}")
    pytest.fail(f"{path.relative_to(REPO)} loads into none of its models:\n" + "\n".join(errors))


def _same_shape(stored, dumped, where=""):
    """Where the dump differs from the recording: a field added since the recording (it dumps
    empty: None, [] or {}) is no difference."""
    if isinstance(stored, dict) and isinstance(dumped, dict):
        out = [f"{where}.{k}: not in the dump" for k in stored if k not in dumped]
        out += [
            f"{where}.{k}: {dumped[k]!r} added" for k in dumped if k not in stored and dumped[k] not in (None, [], {})
        ]
        for k in stored.keys() & dumped.keys():
            out += _same_shape(stored[k], dumped[k], f"{where}.{k}")
        return out
    if isinstance(stored, list) and isinstance(dumped, list) and len(stored) == len(dumped):
        return [d for i, (a, b) in enumerate(zip(stored, dumped)) for d in _same_shape(a, b, f"{where}[{i}]")]
    return [] if stored == dumped else [f"{where}: {stored!r} became {dumped!r}"]


def test_every_recording_loads_and_dumps_back_to_the_same_json():
    changed = {}
    for path in RECORDINGS:
        stored, result = _loads(path)
        diffs = _same_shape(stored["result"], result.model_dump(mode="json", exclude={"replayed"}))
        if diffs:
            changed[str(path.relative_to(REPO))] = diffs[:3]
    assert not changed, f"recordings whose JSON the models would write differently: {changed}"


def test_a_recording_with_a_field_its_model_lacks_fails_to_load():
    stored, result = _loads(next(p for p in RECORDINGS if p.parent.name == "build"))
    with pytest.raises(pydantic.ValidationError, match="extra"):
        type(result).model_validate({**stored["result"], "renamed_field": 1})


def test_a_dump_carries_computed_properties_and_loading_drops_them():
    step = Step(vertex=1, name="RUN make", index=2, seconds=1.5)
    r = BuildResult(tag="t", image_id=None, platforms=["linux/amd64"], seconds=2.0, context_bytes=None, steps=[step])
    dumped = r.model_dump(mode="json")
    assert dumped["steps"][0]["ran"] is True
    assert BuildResult.model_validate(dumped) == r and [s.name for s in r.ran] == ["RUN make"]
