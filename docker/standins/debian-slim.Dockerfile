# Offline stand-in for the official debian:trixie-slim: one layer, the root
# filesystem of Debian trixie's minbase set made for TARGETARCH (mmdebstrap chrootless,
# or debootstrap), already slimmed and carrying the host's CA bundle (see layerlab.engine.rootfs).
FROM scratch
ARG TARGETARCH
ADD rootfs-${TARGETARCH}.tar /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["bash"]
