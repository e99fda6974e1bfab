# Offline stand-in for nvidia/cuda:12.4.1-devel-ubuntu22.04: the runtime plus
# the compiler (nvcc, ptxas, cuobjdump), g++, the CUDA headers and the
# development files of cudart and cuBLAS (Debian trixie non-free
# `nvidia-cuda-toolkit`, which brings `nvidia-cuda-dev`).
#
# Left out, for time and disk (a cold build is part of the course's test
# run): the static archives (lib*_static.a; libcudart_static.a stays, nvcc
# links it by default) and the shared libraries of cuFFT, cuSPARSE,
# cuSOLVER, cuRAND, NPP and nvJPEG, which the runtime stand-in does not carry
# either. dpkg still lists their packages; the files left out, with their
# sizes as the packages hold them, are in
# /usr/share/doc/nvidia-cuda-dev/layerlab-excluded.txt. The official devel
# image ships all of them.
FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04
RUN printf 'path-exclude /usr/lib/x86_64-linux-gnu/%s\n' 'lib*_static*.a' 'libcufft*' 'libcusparse*' \
      'libcusolver*' 'libcurand*' 'libnpp*' 'libnvjpeg*' > /etc/dpkg/dpkg.cfg.d/layerlab-devel-subset \
 && echo 'path-include /usr/lib/x86_64-linux-gnu/libcudart_static.a' >> /etc/dpkg/dpkg.cfg.d/layerlab-devel-subset \
 && printf '%s\n' \
      'devel: every static archive but libcudart_static.a and the devel files of the libraries runtime left out;' \
      '  each file with its size: /usr/share/doc/nvidia-cuda-dev/layerlab-excluded.txt' \
      >> /usr/share/doc/layerlab-standin/left-out.txt \
 && apt-get update \
 && apt-get install -y --no-install-recommends --download-only nvidia-cuda-toolkit \
 && mkdir -p /usr/share/doc/nvidia-cuda-dev \
 && for deb in /var/cache/apt/archives/*.deb; do dpkg-deb -c "$deb"; done \
    | awk '$6 ~ /^\.\/usr\/lib\/x86_64-linux-gnu\/(lib[^\/]*_static[^\/]*\.a|lib(cufft|cusparse|cusolver|curand|npp|nvjpeg)[^\/]*)$/ \
           && $6 !~ /libcudart_static/ && $3 > 0 {print $3, substr($6, 2)}' \
    > /usr/share/doc/nvidia-cuda-dev/layerlab-excluded.txt \
 && apt-get install -y --no-install-recommends nvidia-cuda-toolkit \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
 && nvcc --version
