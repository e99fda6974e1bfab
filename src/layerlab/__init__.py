"""layerlab: build, measure, explain and grade container images for the Containers for ML course."""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # Imported on first use, so `import layerlab` stays light.
    if name == "grade_exercise":
        # `layerlab.grade_exercise("02-slim")`: the last cell of an exercise notebook.
        from layerlab.grade import grade_exercise

        return grade_exercise
    if name == "check":
        # `layerlab.check("02-lean-git", dockerfile)`: the quick check of a lesson's challenge.
        from layerlab.course.challenges import check

        return check
    raise AttributeError(f"module 'layerlab' has no attribute {name!r}")
