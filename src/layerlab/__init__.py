"""layerlab: build, measure, explain and grade container images for the Containers for ML course."""

__version__ = "0.1.0"

# The modules whose import registers course.yml's `check:` kinds (layerlab.course.checkspec
# reads this the first time it validates an exercise): the course layer never imports the grader.
CHECK_PROVIDERS = ("layerlab.grade.checks",)


def __getattr__(name: str) -> object:
    # `layerlab.grade("02-slim")` in a notebook: imported on first use, so `import layerlab` stays light.
    if name == "grade":
        import importlib

        return importlib.import_module(".grade", __name__)
    if name == "check":
        # `layerlab.check("02-lean-git", dockerfile)`: the quick check of a lesson's challenge.
        from layerlab.course.challenges import check

        return check
    raise AttributeError(f"module 'layerlab' has no attribute {name!r}")
