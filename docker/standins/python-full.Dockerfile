# Offline stand-in for the official python:3.13 (the "full" image): the slim
# stand-in plus the compiler toolchain and headers a C extension needs.
# apt resolves and downloads natively, as for the slim stand-in
# (python-slim.Dockerfile); these packages hold few Python modules, so their
# byte-compilation stays in the packages' own scripts.
FROM python:3.13-slim AS target

FROM --platform=$BUILDPLATFORM debian:trixie-slim AS fetch
ARG TARGETARCH
COPY --from=target /var/lib/dpkg/status /target/status
RUN --mount=type=bind,target=/ctx \
    sh /ctx/fetch-debs.sh "$TARGETARCH" /target/status \
      build-essential python3-dev pkg-config git curl wget libffi-dev libssl-dev zlib1g-dev

FROM target
RUN --mount=type=bind,target=/ctx \
    --mount=type=bind,from=fetch,source=/debs,target=/debs \
    sh /ctx/install-debs.sh /debs \
 && gcc --version >/dev/null
CMD ["python3"]
