"""The labels that mark what the course created, so `layerlab clean` can find it.

Images inherit labels from their base image, so the base-image stand-ins do
*not* carry MANAGED: otherwise every image a learner builds on them would
count as course-made.
"""

from typing import Literal

# What python-on-whales' `list(filters=...)` takes for a label: typed so one list serves
# containers, networks, volumes and images alike.
LabelFilter = list[tuple[Literal["label"], str]]

MANAGED = "org.layerlab.managed"
MANAGED_VALUE = "true"
MODULE = "org.layerlab.module"
STANDIN = "org.layerlab.standin"
STANDIN_RECIPE = "org.layerlab.standin.recipe"
STANDIN_CREATED = "org.layerlab.standin.created"


def course_labels(module: str | None = None) -> dict[str, str]:
    labels = {MANAGED: MANAGED_VALUE}
    if module:
        labels[MODULE] = module
    return labels


def label_filter(key: str, value: str) -> LabelFilter:
    """`--filter label=key=value`."""
    return [("label", f"{key}={value}")]


def managed_filter() -> LabelFilter:
    """`--filter label=...` for resources the course created."""
    return label_filter(MANAGED, MANAGED_VALUE)
