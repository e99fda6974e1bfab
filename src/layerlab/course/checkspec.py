"""The extension point for course.yml's `check:` kinds: a registry of check models.

Each check is one unit in the grader (`layerlab.grade.checks.<name>`): its model,
what it records in the fixture and its judgement. The course layer must not import
the grader, yet course.yml is validated here; so a check's model registers itself
here when its class is defined, and the registry is filled, the first time it is
read, by importing the modules that the package root names in `CHECK_PROVIDERS`
(`layerlab/__init__.py`, outside the layers, like cli.py). The course layer knows
the interface, never who implements it.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field

_MODELS: dict[str, type["CheckBase"]] = {}
_loaded = False
version = 0  # bumped on every change, so the course schema knows when to rebuild


class CheckBase(BaseModel):
    """What every check of course.yml has; a subclass with `check: Literal["<kind>"]` is a check kind."""

    model_config = ConfigDict(extra="forbid")

    points: int = Field(ge=0, default=1, description="points earned when the check passes")
    required: bool = Field(default=True, description="a required check must pass for the exercise to pass")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if (kind := kind_of(cls)) is not None:
            register(kind, cls)


def kind_of(model: type[BaseModel]) -> str | None:
    """The `check:` value a model declares, or None for a family's shared base (no `check` field)."""
    field = model.model_fields.get("check")
    if field is None or get_origin(field.annotation) is not Literal:
        return None
    values = get_args(field.annotation)
    if len(values) != 1 or not isinstance(values[0], str):
        raise TypeError(f"{model.__name__}.check must be a Literal of one string, got {field.annotation!r}")
    return values[0]


def register(kind: str, model: type[CheckBase]) -> None:
    global version
    known = _MODELS.get(kind)
    if known is not None and known.__qualname__ != model.__qualname__:
        raise TypeError(f"check kind {kind!r} is declared twice: by {known.__module__}.{known.__qualname__} "
                        f"and {model.__module__}.{model.__qualname__}")
    _MODELS[kind] = model
    version += 1


def unregister(kind: str) -> None:
    """Forget a kind (a test's dummy check)."""
    global version
    if _MODELS.pop(kind, None) is not None:
        version += 1


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True  # first: a provider's import may read the registry
    import layerlab

    try:
        for name in getattr(layerlab, "CHECK_PROVIDERS", ()):
            importlib.import_module(name)
    except BaseException:
        _loaded = False  # the next read tries again and shows the same error
        raise


def models() -> dict[str, type[CheckBase]]:
    """Every registered check kind and its model."""
    _load()
    return dict(_MODELS)


def union() -> Any:
    """The discriminated union of every check model: pydantic tells them apart by `check:`."""
    found = tuple(models().values())
    if not found:
        raise RuntimeError("no check kinds are registered: layerlab.CHECK_PROVIDERS names none that import")
    return Annotated[Union[found], Field(discriminator="check")]
