// Device-side evaluation of the shared headers, for the parity tests (tests/test_gpu_parity.py):
// Philox uniforms and the portable math must give the NumPy reference's bits.
#include "stdint.cuh"
#include "philox.cuh"
#include "pmath.cuh"

extern "C" __global__ void philox_fill(uint32_t seed, int R, long nvox, uint32_t step, uint32_t stream,
                                       uint32_t draw, float* out /* (4, R, nvox) */) {
    const long v = (long)blockIdx.x * blockDim.x + threadIdx.x;
    const long n = (long)R * nvox;
    if (v >= n) return;
    float u[4];
    philox_uniforms(seed, (uint32_t)(v / nvox), (uint32_t)(v % nvox), step, stream, draw, u);
    for (int k = 0; k < 4; ++k) out[k * n + v] = u[k];
}

// op: 0 exp, 1 log, 2 one_minus_exp_neg, 3 hill(c, a, b, 1)
extern "C" __global__ void pmath_eval(int op, const float* x, float a, float b, long n, float* out) {
    const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float v = x[i];
    out[i] = op == 0 ? pm_exp(v) : op == 1 ? pm_log(v) : op == 2 ? pm_one_minus_exp_neg(v) : pm_hill(v, a, b, 1.0f);
}
