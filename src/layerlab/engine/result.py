"""The base of every result the library returns: a pydantic model, so it is typed to the leaf
(notebooks read `report.layers[0].size_bytes`, not a dict) and goes to JSON and back through
`model_dump(mode="json")` / `model_validate` (replays, the inspect cache, `--json` output)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer, model_validator


class Result(BaseModel):
    # forbid: a recording or cache file whose fields drifted from the model fails loudly instead of
    # loading half a result.
    model_config = ConfigDict(extra="forbid")

    # Properties a dump also carries, for whoever reads the JSON (`passed` of a grade report);
    # loading drops them again, since they are computed.
    dumped_properties: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _dump_properties(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        for name in self.dumped_properties:
            data[name] = getattr(self, name)
        return data

    @model_validator(mode="before")
    @classmethod
    def _drop_properties(cls, data: Any) -> Any:
        if cls.dumped_properties and isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in cls.dumped_properties}
        return data


class Replayable(Result):
    """A result that `replay.replayable` records; `replayed` says where a replayed one came from
    (engine, platform, recorded_at) and is None for a live result."""

    replayed: dict[str, str] | None = None
