# Offline stand-in for the official python:3.13-slim. Trixie's python3 is
# 3.13, the same minor version and Debian release as the official image.
# Like the official image: `python` and `pip` on PATH, pip installs into the
# system interpreter (no PEP 668 lock), no apt lists left behind.
#
# Built so that an arm64 stand-in spends little time under qemu: apt resolves
# and downloads natively (fetch-debs.sh), and the two slow package scripts,
# byte-compilation and update-ca-certificates, run natively too
# (install-debs.sh); only dpkg and the other scripts run for the target.
FROM debian:trixie-slim AS target

FROM --platform=$BUILDPLATFORM debian:trixie-slim AS fetch
ARG TARGETARCH
COPY --from=target /var/lib/dpkg/status /target/status
RUN --mount=type=bind,target=/ctx \
    sh /ctx/fetch-debs.sh "$TARGETARCH" /target/status python3 python3-pip python3-venv ca-certificates

# Architecture-independent files made natively: /etc/ssl/certs with the host's
# bundle, and a Python of the same version to byte-compile the target's modules.
FROM --platform=$BUILDPLATFORM debian:trixie-slim AS native
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates python3.13

FROM target AS installed
ENV LANG=C.UTF-8
RUN --mount=type=bind,target=/ctx \
    --mount=type=bind,from=fetch,source=/debs,target=/debs \
    --mount=type=bind,from=native,source=/etc/ssl/certs,target=/certs \
    sh /ctx/install-debs.sh /debs --certs /certs --no-pyc \
 && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED \
 && ln -s /usr/bin/python3 /usr/local/bin/python \
 && ln -s /usr/bin/pip3 /usr/local/bin/pip

FROM native AS pyc
COPY --from=installed /usr/lib/python3.13 /t/usr/lib/python3.13
COPY --from=installed /usr/lib/python3/dist-packages /t/usr/lib/python3/dist-packages
# Paths inside the bytecode name the target's files (-s/-p); only .pyc files stay.
RUN python3.13 -m compileall -q -j 0 -s /t -p / /t/usr/lib \
 && find /t -type f ! -name '*.pyc' -delete

FROM installed
COPY --from=pyc /t/ /
CMD ["python3"]
