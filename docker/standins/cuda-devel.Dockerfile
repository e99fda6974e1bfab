# Offline stand-in for nvidia/cuda:12.4.1-devel-ubuntu22.04: the runtime plus
# the compiler (nvcc, ptxas, cuobjdump), g++, the headers and the shared
# development libraries of every CUDA library (Debian trixie non-free
# `nvidia-cuda-toolkit`, which brings `nvidia-cuda-dev`).
#
# One difference, for time and disk: the static archives (lib*_static.a,
# 2.3 GB of the package) are not unpacked, except libcudart_static.a and
# libcudadevrt.a, which nvcc links by default. dpkg still lists them; the
# names and sizes of what was left out are in /usr/share/doc/nvidia-cuda-dev/
# layerlab-excluded.txt. The official devel image ships all of them.
FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04
RUN printf '%s\n' \
      'path-exclude /usr/lib/x86_64-linux-gnu/lib*_static*.a' \
      'path-include /usr/lib/x86_64-linux-gnu/libcudart_static.a' \
      > /etc/dpkg/dpkg.cfg.d/layerlab-no-static \
 && apt-get update \
 && apt-get install -y --no-install-recommends --download-only nvidia-cuda-toolkit \
 && mkdir -p /usr/share/doc/nvidia-cuda-dev \
 && dpkg-deb -c /var/cache/apt/archives/nvidia-cuda-dev_*.deb \
    | awk '$6 ~ /_static.*\.a$/ && $6 !~ /libcudart_static/ {print $3, substr($6, 2)}' \
    > /usr/share/doc/nvidia-cuda-dev/layerlab-excluded.txt \
 && apt-get install -y --no-install-recommends nvidia-cuda-toolkit \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
 && nvcc --version
