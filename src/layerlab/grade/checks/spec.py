"""What a check unit declares: its course.yml model, and the registry of every kind.

A unit (one file of this package) declares a `CheckBase` subclass with
`check: Literal["<kind>"]`; defining the class registers the kind here. The
package imports every unit when it is imported, and this module is inside it,
so whoever reads the registry reads it full.

A model is also the unit's answer to the grading run's few questions (the
protocol the runner knows, instead of the kinds): when it runs (`order`), what
it sets up before any check runs (`prepare`), and what a student does to a
solution before it is graded (`hand_in`, used when recording).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict

from layerlab.course import CheckEntry

if TYPE_CHECKING:
    from ..exercise import Exercise
    from .base import Context

_MODELS: dict[str, type[CheckBase]] = {}


class CheckBase(CheckEntry):
    """A check of course.yml as the grader reads it: `points` and `required` (from the course's
    entry) and the kind's own keys, nothing else: a typo fails with the keys the kind knows."""

    model_config = ConfigDict(extra="forbid")

    # Checks run by ascending `order`, then in course.yml's order. `builds` runs first (-1):
    # every image check starts from its image, and its failure explains theirs.
    order: ClassVar[int] = 0

    def prepare(self, ctx: Context) -> None:
        """Set up what this check needs before any check runs (the submission is copied, not yet built)."""

    def provides(self) -> list[str]:
        """Files (relative to the exercise folder) that `prepare` writes into the copy it grades: a Dockerfile
        may copy them although the student's folder lacks them (exercise 10-prod's generated weights)."""
        return []

    def hand_in(self, exercise: Exercise, solution: Path, dest: Path) -> Path | None:
        """What a student does with a finished folder before grading it, beyond editing files (push an
        image): `layerlab record` does it to a copy of the solution in `dest` and grades that copy,
        which it returns; None when there is nothing to do."""
        return None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if (kind := kind_of(cls)) is not None:
            register(kind, cls)


def kind_of(model: type[BaseModel]) -> str | None:
    """The `check:` value a model declares, or None for a family's shared base (no Literal `check`)."""
    field = model.model_fields.get("check")
    if field is None or get_origin(field.annotation) is not Literal:
        return None
    values = get_args(field.annotation)
    if len(values) != 1 or not isinstance(values[0], str):
        raise TypeError(f"{model.__name__}.check must be a Literal of one string, got {field.annotation!r}")
    return values[0]


def kind(model: type[BaseModel]) -> str:
    """The kind a check model declares; TypeError for a model that declares none."""
    found = kind_of(model)
    if found is None:
        raise TypeError(f"{model.__name__} declares no `check: Literal[...]`, so it is no check kind")
    return found


def register(kind: str, model: type[CheckBase]) -> None:
    known = _MODELS.get(kind)
    if known is not None and known.__qualname__ != model.__qualname__:
        raise TypeError(
            f"check kind {kind!r} is declared twice: by {known.__module__}.{known.__qualname__} "
            f"and {model.__module__}.{model.__qualname__}"
        )
    _MODELS[kind] = model


def unregister(kind: str) -> None:
    """Forget a kind (a test's dummy check)."""
    _MODELS.pop(kind, None)


def models() -> dict[str, type[CheckBase]]:
    """Every registered check kind and its model."""
    return dict(_MODELS)
