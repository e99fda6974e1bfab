# Challenge 02-lean-git: one solution. Everything apt does happens in one RUN:
# no recommended packages (ssh client, less, patch...), and the lists go in the same layer.
LEAN_GIT = """\
FROM python:3.13-slim
RUN apt-get update \\
 && apt-get install -y --no-install-recommends git \\
 && rm -rf /var/lib/apt/lists/*
"""
