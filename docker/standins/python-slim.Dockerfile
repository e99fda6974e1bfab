# Offline stand-in for the official python:3.13-slim. Trixie's python3 is
# 3.13, the same minor version and Debian release as the official image.
# Like the official image: `python` and `pip` on PATH, pip installs into the
# system interpreter (no PEP 668 lock), no apt lists left behind.
FROM debian:trixie-slim
ENV LANG=C.UTF-8
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-pip python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED \
 && ln -s /usr/bin/python3 /usr/local/bin/python \
 && ln -s /usr/bin/pip3 /usr/local/bin/pip \
 && python -c "import ensurepip, venv, ssl"
CMD ["python3"]
