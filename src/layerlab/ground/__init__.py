"""The ground floor, under every layer: where things are, what the environment says, and failures every layer shares.

`settings` is the one place that reads the repository's location and the
LAYERLAB_* environment variables (typed, read when asked, so a test or the CLI
that sets one is seen); `errors` holds what a layer raises when a backend it
needs does not answer. Nothing here imports another layer.
"""
