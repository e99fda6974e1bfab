# Offline stand-in for the official python:3.13 (the "full" image): the slim
# stand-in plus the compiler toolchain and headers a C extension needs.
FROM python:3.13-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential python3-dev pkg-config git curl wget \
      libffi-dev libssl-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/* \
 && gcc --version >/dev/null
CMD ["python3"]
