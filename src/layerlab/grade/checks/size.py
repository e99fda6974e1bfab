"""`size_at_most` and `wasted_at_most`: what the image adds above its base, against the solution's."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from layerlab.measure.inspector import AboveBase, mb, short_instruction

from .base import Context, Failed, check
from .spec import CheckBase


class SizeAtMost(CheckBase):
    check: Literal["size_at_most"]
    factor: float = Field(gt=0, description="bytes added above the base image at most factor x the fixture's")
    allowance_mb: float = Field(
        ge=0,
        default=2.0,
        description="plus this many MB: apt and dpkg rewrite bookkeeping files "
        "whose size depends on the base (official image or stand-in)",
    )


class WastedAtMost(CheckBase):
    check: Literal["wasted_at_most"]
    allowance_mb: float = Field(
        ge=0,
        description="wasted bytes (dive's definition) that the submission adds above its base "
        "at most the fixture's plus this many MB",
    )


def _largest_layers(ctx: Context, above: AboveBase | None, same: bool, n: int = 3) -> str:
    """The submission's own largest layers: above the base when it is the reference's (the base's
    layers are the same for every submission, none of the student's doing), all of them otherwise."""
    layers = ctx.need_subject().image.layers
    if above is not None and same:
        layers = layers[above.base_layers :]
    ranked = sorted(layers, key=lambda l: -l.size_bytes)
    return "\n".join(f"{mb(l.size_bytes):>10}  {short_instruction(l.created_by, 60)}" for l in ranked[:n])


def base_name(ref: str) -> str:
    """`name:tag` of an image reference, without registry, namespace or digest."""
    last = ref.split("@", 1)[0].rsplit("/", 1)[-1]
    name, _, tag = last.partition(":")
    return f"{name}:{tag or 'latest'}"


def _on_reference_base(ctx: Context) -> tuple[AboveBase | None, bool]:
    """The submission's split at its base, and whether that base plays the reference's.

    The same `name:tag` from another registry or namespace (a mirror, the official image
    where the reference had a stand-in) is the same base in another build; another base
    (python:3.13 where the reference used python:3.13-slim) is the student's choice, and
    its bytes count as the student's.
    """
    above, fx = ctx.need_subject().above_base, ctx.need_fixture()
    if above is None or fx.added_bytes is None or fx.base_ref is None:
        return above, False
    return above, base_name(above.base_ref) == base_name(fx.base_ref)


def _base_note(ctx: Context) -> str:
    (above, same), fx = _on_reference_base(ctx), ctx.need_fixture()
    if above is None:
        return ""
    kind = "stand-in" if above.base_standin else "official image"
    if not same:
        return f"\nbase {above.base_ref} ({kind}, {mb(above.base_bytes)}): the exercise builds on {fx.base_ref}"
    built = (
        "the same build as the reference's"
        if above.base_image_id == fx.base_image_id
        else f"another build than the reference's ({'stand-in' if fx.base_standin else 'official'}, {mb(fx.base_bytes or 0)})"
    )
    return f"\nbase {above.base_ref} ({kind}, {mb(above.base_bytes)}): {built}"


@check(SizeAtMost)
def size_at_most(ctx: Context, spec: SizeAtMost) -> str:
    s = ctx.need_subject()
    fx = ctx.need_fixture()
    above, same = _on_reference_base(ctx)
    total = s.image.size_bytes
    if above is None or fx.added_bytes is None:
        # No base to subtract (FROM scratch, a --build-arg base, an old fixture): compare totals.
        size, allowed = total, fx.size_bytes * spec.factor + spec.allowance_mb * 1e6
        detail = f"{mb(size)} uncompressed in all, at most {mb(allowed)} allowed (no base image to compare above)"
    else:
        allowed = fx.added_bytes * spec.factor + spec.allowance_mb * 1e6
        if same:
            size = above.added_bytes
            detail = f"adds {mb(size)} above its base, at most {mb(allowed)} allowed (the reference adds {mb(fx.added_bytes)}; {mb(total)} in all)"
        else:
            size = max(0, total - (fx.base_bytes or 0))
            detail = (
                f"{mb(total)} in all on {above.base_ref}: {mb(size)} more than the exercise's base {fx.base_ref} "
                f"({mb(fx.base_bytes or 0)}), at most {mb(allowed)} allowed (the reference adds {mb(fx.added_bytes)})"
            )
    if size > allowed:
        raise Failed(
            detail + "\nyour largest layers:\n" + _largest_layers(ctx, above, same) + _base_note(ctx),
            "the image carries what the tool does not need at run time: a bigger base than needed, packages "
            "it never uses (build tools, recommended extras), apt's package lists, pip's download cache",
        )
    return detail


@check(WastedAtMost)
def wasted_at_most(ctx: Context, spec: WastedAtMost) -> str:
    s = ctx.need_subject()
    fx = ctx.need_fixture()
    above, same = _on_reference_base(ctx)
    if above is None or fx.added_wasted_bytes is None:
        wasted, reference, where = s.image.wasted_bytes, fx.wasted_bytes, "in all"
    elif same:
        # The base's own waste is the same for every submission on it and none of the student's doing.
        wasted, reference, where = above.added_wasted_bytes, fx.added_wasted_bytes, "above the base"
    else:
        wasted = max(0, s.image.wasted_bytes - (fx.base_wasted_bytes or 0))
        reference, where = fx.added_wasted_bytes, f"more than the exercise's base {fx.base_ref} has"
    bound = reference + spec.allowance_mb * 1e6
    detail = f"{mb(wasted)} wasted {where} (dive's measure: bytes of paths in two or more layers), at most {mb(bound)} allowed"
    if wasted > bound:
        top = "\n".join(f"{mb(size):>10}  x{count}  {path}" for path, count, size in s.image.top_waste[:4])
        raise Failed(
            detail + "\nwhere:\n" + top,
            "files written in one layer and deleted or changed in a later one still ship in the first: "
            "remove them in the same RUN that created them",
        )
    return detail
