"""The measure layer: what the course measures, from the engine layer's results.

Layers and waste as dive counts them (`layers`, `oci`, `inspector`), rebuilds
and their cache (`cache`), isolation of a venv, a container and a VM
(`isolation`), how a stand-in differs from the official image (`standins`),
CUDA images, what a program links and which GPU code it carries (`cuda`),
where a secret hides in an image (`leaks`), requests spread over a compose
service's replicas (`replicas`), and what the linters say about
Dockerfiles and CI workflows (`lint`).
"""
