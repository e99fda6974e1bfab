// SAXPY (y = a*x + y) on the GPU, checked against the CPU. Without a GPU or
// a driver it says so and exits with status 2, instead of crashing: every
// CUDA program should ask cudaGetDeviceCount first and read its error.
#include <cstdio>
#include <cmath>
#include <vector>
#include <cuda_runtime.h>

__global__ void saxpy(int n, float a, const float *x, float *y) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = a * x[i] + y[i];
}

static int fail(const char *what, cudaError_t err) {
    std::printf("%s: %s (%s)\n", what, cudaGetErrorName(err), cudaGetErrorString(err));
    return 1;
}

int main() {
    const int n = 1 << 20;
    const float a = 2.0f;
    int runtime = 0, driver = 0;
    cudaRuntimeGetVersion(&runtime);
    cudaDriverGetVersion(&driver);  // 0 when no driver is loaded
    std::printf("saxpy: y = %.1f * x + y for %d floats\n", a, n);
    std::printf("CUDA runtime %d.%d, driver supports CUDA %d.%d\n",
                runtime / 1000, runtime % 1000 / 10, driver / 1000, driver % 1000 / 10);

    int devices = 0;
    cudaError_t err = cudaGetDeviceCount(&devices);
    if (err != cudaSuccess || devices == 0) {
        std::printf("cudaGetDeviceCount: %s (%s)\n", cudaGetErrorName(err), cudaGetErrorString(err));
        std::printf("no CUDA device/driver: run on a machine with an NVIDIA GPU and driver, "
                    "with the container given the GPU (docker run --gpus all)\n");
        return 2;
    }
    cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    std::printf("device 0: %s, compute capability %d.%d\n", prop.name, prop.major, prop.minor);

    std::vector<float> x(n, 1.0f), y(n, 2.0f);
    float *dx = nullptr, *dy = nullptr;
    if ((err = cudaMalloc(&dx, n * sizeof(float))) != cudaSuccess) return fail("cudaMalloc", err);
    if ((err = cudaMalloc(&dy, n * sizeof(float))) != cudaSuccess) return fail("cudaMalloc", err);
    cudaMemcpy(dx, x.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    cudaMemcpy(dy, y.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    saxpy<<<(n + 255) / 256, 256>>>(n, a, dx, dy);
    // A kernel with no code for this GPU fails here: cudaErrorNoKernelImageForDevice.
    if ((err = cudaGetLastError()) != cudaSuccess) return fail("saxpy kernel", err);
    if ((err = cudaMemcpy(y.data(), dy, n * sizeof(float), cudaMemcpyDeviceToHost)) != cudaSuccess)
        return fail("cudaMemcpy", err);
    float worst = 0.0f;
    for (int i = 0; i < n; i++) worst = std::fmax(worst, std::fabs(y[i] - 4.0f));
    cudaFree(dx);
    cudaFree(dy);
    std::printf("max error %g: %s\n", worst, worst == 0.0f ? "ok" : "WRONG");
    return worst == 0.0f ? 0 : 1;
}
