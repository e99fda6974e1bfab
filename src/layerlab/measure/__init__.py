"""The measure layer: what the course measures, from the engine layer's results.

Layers and waste as dive counts them (`layers`, `oci`, `inspector`), rebuilds
and their cache (`cache`), isolation of a venv, a container and a VM
(`isolation`), and how a stand-in differs from the official image (`standins`).
"""
