#!/usr/bin/env bash
# Copy lesson 06's compiled SAXPY and every shared library it loads out of an
# image into a folder that runs on a GPU machine without Docker:
#   scripts/cuda-gpu-bundle.sh [IMAGE] [OUT]   (default: lesson 06's on-base image, built if missing;
#                                               build/cuda-gpu-bundle)
#   (on the GPU machine)  OUT/run.sh            exit 0 and "max error 0: ok" with a GPU; 2 without
#                         OUT/gpu-check.sh      lesson 06's recording (> docker/lessons/06-cuda-images/recorded/
#                                               gpu-check.txt): the GPU, the program, and two builds of it that test
#                                               lesson 06's -gencode claim: SASS for sm_80 only (no
#                                               PTX: no kernel for a newer GPU) and PTX only (the
#                                               driver compiles it at load time)
# The folder carries its own loader and C/C++ libraries too, so the host's
# glibc version does not matter; only the driver (libcuda.so.1) comes from the
# host, as it does for a container started with --gpus all.
set -euo pipefail
IMAGE=${1:-layerlab/06-on-base:lesson}
OUT=${2:-build/cuda-gpu-bundle}
PROGRAM=/usr/local/bin/saxpy
ENGINE=${LAYERLAB_ENGINE:-docker}

if ! $ENGINE image inspect "$IMAGE" >/dev/null 2>&1; then
  # Lesson 06 makes this image; without it, build its `on-base` stage here
  # (the CUDA images must exist: `layerlab bootstrap 06`).
  here=$(cd "$(dirname "$0")/.." && pwd)
  lesson="$here/docker/lessons/06-cuda-images"
  $ENGINE buildx build --provenance=false --load --label org.layerlab.managed=true --label org.layerlab.module=06 \
    --target on-base -t "$IMAGE" -f "$lesson/multi-stage/Dockerfile" "$lesson/app"
fi
rm -rf "$OUT"
mkdir -p "$OUT/lib"
cid=$($ENGINE create --label org.layerlab.managed=true "$IMAGE")
trap '$ENGINE rm -f "$cid" >/dev/null' EXIT
$ENGINE cp -L "$cid:$PROGRAM" "$OUT/saxpy"
# ldd in the image itself names the files its loader would use.
libs=$($ENGINE run --rm --label org.layerlab.managed=true --entrypoint ldd "$IMAGE" "$PROGRAM" \
  | awk '/=>/ && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}')
for lib in $libs; do
  $ENGINE cp -L "$cid:$lib" "$OUT/lib/$(basename "$lib")"
done
loader=$(cd "$OUT/lib" && ls ld-linux-x86-64.so.*)
cat > "$OUT/run.sh" <<RUN
#!/bin/sh
# SAXPY from $IMAGE, with its own loader and libraries; the host gives libcuda.so.1.
here=\$(cd "\$(dirname "\$(readlink -f "\$0")")" && pwd)
exec "\$here/lib/$loader" --library-path "\$here/lib:/usr/lib/x86_64-linux-gnu:/usr/lib64:/usr/local/nvidia/lib64:/usr/lib/wsl/lib" "\$here/saxpy" "\$@"
RUN
# The two -gencode variants, compiled with the devel image's nvcc from the
# program's source in the image's lesson folder; they use the same libraries.
src="$(cd "$(dirname "$0")/.." && pwd)/docker/lessons/06-cuda-images/app"
$ENGINE run --rm --label org.layerlab.managed=true -v "$src:/src:ro" -v "$(cd "$OUT" && pwd):/out" \
  nvidia/cuda:12.4.1-devel-ubuntu22.04 sh -c '
    nvcc -O2 -cudart shared -gencode arch=compute_80,code=sm_80 -o /out/saxpy-sm80-only /src/saxpy.cu &&
    nvcc -O2 -cudart shared -gencode arch=compute_75,code=compute_75 -o /out/saxpy-ptx75-only /src/saxpy.cu'
# What the bundle was built from, so that a recording of gpu-check.sh says which program it ran.
(cd "$(dirname "$0")/.." && sha256sum docker/lessons/06-cuda-images/app/saxpy.cu \
  docker/lessons/06-cuda-images/multi-stage/Dockerfile) > "$OUT/sources.sha256"
cat > "$OUT/gpu-check.sh" <<'CHECK'
#!/bin/sh
# One GPU-machine call: the GPU and driver, the program, the two -gencode variants. Its output is lesson 06's
# recording (docker/lessons/06-cuda-images/recorded/gpu-check.txt, read by layerlab.measure.gpu_recording):
#   OUT/gpu-check.sh > gpu-check.txt
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
lp="$here/lib:/usr/lib/x86_64-linux-gnu:/usr/lib64:/usr/local/nvidia/lib64:/usr/lib/wsl/lib"
run() { echo "== $1"; "$here/lib/ld-linux-x86-64.so.2" --library-path "$lp" "$here/$2"; echo "exit status $?"; }
echo "recorded: $(date -u +%FT%TZ)"
echo "kernel: $(uname -sr)"
nvidia-smi -L
cat "$here/sources.sha256"
(cd "$here" && sha256sum saxpy saxpy-sm80-only saxpy-ptx75-only lib/libcudart.so.12) | sed 's#  #  <bundle>/#'
nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv
run "the image's saxpy" saxpy
# The loader's own record of which file each CUDA library came from: libcudart from the image, libcuda from the host.
echo "== where the CUDA libraries came from"
LD_DEBUG=libs "$here/lib/ld-linux-x86-64.so.2" --library-path "$lp" "$here/saxpy" 2>&1 >/dev/null \
  | sed -n 's/.*calling init: \(.*lib\(cudart\|cuda\)\.so.*\)/\1/p' | sed "s#^$here/#<bundle>/#" | sort -u
run "SASS for sm_80 only, no PTX" saxpy-sm80-only
run "PTX for compute_75 only (compiled by the driver at load time)" saxpy-ptx75-only
CHECK
chmod +x "$OUT/run.sh" "$OUT/saxpy" "$OUT/gpu-check.sh"
echo "bundle: $OUT ($(du -sh "$OUT" | cut -f1)); files:"
ls -l "$OUT" "$OUT/lib"
echo "run it here or on a GPU machine: $OUT/run.sh"
