"""layerlab: build, measure, explain and grade container images for the Containers for ML course."""

__version__ = "0.1.0"
