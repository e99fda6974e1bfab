# Offline stand-in for nvidia/cuda:12.4.1-runtime-ubuntu22.04: the base plus
# the math libraries, here cuBLAS and cuBLASLt (Debian trixie non-free, CUDA
# 12.4). The official runtime image also carries cuFFT, cuRAND, cuSOLVER,
# cuSPARSE, NPP, NVRTC and NCCL.
FROM nvidia/cuda:12.4.1-base-ubuntu22.04
RUN printf '%s\n' \
      'runtime: cuFFT, cuRAND, cuSOLVER, cuSPARSE, NPP, nvJPEG, NVRTC, NCCL (in the official runtime; only cuBLAS' \
      '  here, the library the lesson measures)' >> /usr/share/doc/layerlab-standin/left-out.txt \
 && apt-get update \
 && apt-get install -y --no-install-recommends libcublas12 libcublaslt12 \
 && rm -rf /var/lib/apt/lists/*
