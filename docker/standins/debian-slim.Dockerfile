# Offline stand-in for the official debian:trixie-slim: one layer, the root
# filesystem that `debootstrap --variant=minbase trixie` made for TARGETARCH,
# already slimmed and carrying the host's CA bundle (see layerlab.bootstrap).
FROM scratch
ARG TARGETARCH
ADD rootfs-${TARGETARCH}.tar /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["bash"]
