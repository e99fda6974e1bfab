# Offline stand-in for nvidia/cuda:12.4.1-base-ubuntu22.04: the CUDA runtime
# library (libcudart), from Debian trixie's non-free CUDA 12.4 packages.
# The official images are Ubuntu with NVIDIA's own packages under
# /usr/local/cuda-12.4; Debian puts the same libraries under /usr/lib/x86_64-linux-gnu.
#
# Left out: the official base also installs cuda-compat-12-4, NVIDIA's
# forward-compatibility driver libraries (libcuda.so.*, the PTX JIT compiler,
# NVVM) under /usr/local/cuda-12.4/compat, which let a datacenter GPU on an
# older driver branch (470, 525, 535: see NVIDIA_REQUIRE_CUDA) run CUDA 12.4.
# Debian does not package them. What each stand-in leaves out is listed, one
# line each, in /usr/share/doc/layerlab-standin/left-out.txt.
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
 && mkdir -p /usr/share/doc/layerlab-standin \
 && printf '%s\n' \
      'base: cuda-compat-12-4, NVIDIA forward-compatibility driver libraries (libcuda.so.*,' \
      '  libnvidia-ptxjitcompiler.so.*, libnvidia-nvvm.so.*) under /usr/local/cuda-12.4/compat; not in Debian' \
      > /usr/share/doc/layerlab-standin/left-out.txt \
 && apt-get update \
 && apt-get install -y --no-install-recommends libcudart12 \
 && rm -rf /var/lib/apt/lists/*
# What the official images set. The container toolkit reads the NVIDIA_* ones:
# NVIDIA_REQUIRE_CUDA is copied whole from NVIDIA's 12.4.1 ubuntu22.04 base
# Dockerfile (gitlab.com/nvidia/container-images/cuda, dist/12.4.1/ubuntu2204/base).
# A space separates alternatives (OR), a comma joins conditions (AND): a driver
# for CUDA 12.4 or newer, or a 470.x, 525.x or 535.x driver of the brands listed
# (the branches cuda-compat supports). The continuation lines are not indented,
# so the value has one space between terms, as NVIDIA's has.
ENV NVIDIA_REQUIRE_CUDA="cuda>=12.4 brand=tesla,driver>=470,driver<471 brand=unknown,driver>=470,driver<471 \
brand=nvidia,driver>=470,driver<471 brand=nvidiartx,driver>=470,driver<471 \
brand=geforce,driver>=470,driver<471 brand=geforcertx,driver>=470,driver<471 \
brand=quadro,driver>=470,driver<471 brand=quadrortx,driver>=470,driver<471 brand=titan,driver>=470,driver<471 \
brand=titanrtx,driver>=470,driver<471 brand=tesla,driver>=525,driver<526 brand=unknown,driver>=525,driver<526 \
brand=nvidia,driver>=525,driver<526 brand=nvidiartx,driver>=525,driver<526 \
brand=geforce,driver>=525,driver<526 brand=geforcertx,driver>=525,driver<526 \
brand=quadro,driver>=525,driver<526 brand=quadrortx,driver>=525,driver<526 brand=titan,driver>=525,driver<526 \
brand=titanrtx,driver>=525,driver<526 brand=tesla,driver>=535,driver<536 brand=unknown,driver>=535,driver<536 \
brand=nvidia,driver>=535,driver<536 brand=nvidiartx,driver>=535,driver<536 \
brand=geforce,driver>=535,driver<536 brand=geforcertx,driver>=535,driver<536 \
brand=quadro,driver>=535,driver<536 brand=quadrortx,driver>=535,driver<536 brand=titan,driver>=535,driver<536 \
brand=titanrtx,driver>=535,driver<536"
ENV CUDA_VERSION=12.4.1 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    PATH=/usr/local/nvidia/bin:/usr/local/cuda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64
CMD ["bash"]
