# Offline stand-in for nvidia/cuda:12.4.1-base-ubuntu22.04: the CUDA runtime
# library alone (libcudart), from Debian trixie's non-free CUDA 12.4 packages.
# The official images are Ubuntu with NVIDIA's own packages under
# /usr/local/cuda; Debian puts the same libraries under /usr/lib/x86_64-linux-gnu.
FROM debian:trixie-slim
# The non-free component stays in the sources so that images built on these
# stand-ins can apt-get install more CUDA libraries. The stand-in has a
# one-line sources.list, the official debian image a deb822 debian.sources.
RUN for f in /etc/apt/sources.list /etc/apt/sources.list.d/debian.sources; do \
      if [ -f "$f" ]; then sed -i -e 's/^\(deb .* trixie main\)$/\1 contrib non-free/' \
                                 -e 's/^Components: main$/Components: main contrib non-free/' "$f"; fi; \
    done \
 && grep -rq non-free /etc/apt/sources.list /etc/apt/sources.list.d/ \
 && printf '%s\n' \
      '# The driver (libcuda, the PTX JIT) belongs to the host: the NVIDIA container' \
      '# toolkit mounts the host'"'"'s copy at run time, as for the official images.' \
      'path-exclude /usr/lib/x86_64-linux-gnu/libcuda.so*' \
      'path-exclude /usr/lib/x86_64-linux-gnu/nvidia/*' \
      'path-exclude /usr/lib/x86_64-linux-gnu/libnvidia-ptxjitcompiler.so*' \
      > /etc/dpkg/dpkg.cfg.d/layerlab-host-driver \
 && apt-get update \
 && apt-get install -y --no-install-recommends libcudart12 \
 && rm -rf /var/lib/apt/lists/*
# What the official images set: the container toolkit reads the first two.
ENV CUDA_VERSION=12.4.1 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    NVIDIA_REQUIRE_CUDA="cuda>=12.4 brand=tesla,driver>=470,driver<471" \
    PATH=/usr/local/nvidia/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64
CMD ["bash"]
