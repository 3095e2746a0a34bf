// Portable float32 math: the CUDA twin of lattice/pmath.py, same operations in the same order,
// so that with --fmad=false the two backends give identical bits.
#pragma once

#define PM_LOG2E 1.4426950408889634f
#define PM_LN2_HI 0.693145751953125f
#define PM_LN2_LO 1.4286067653e-06f
#define PM_SQRT_HALF 0.70710678118654752f
#define PM_EXP_SMALL 0.34657359f

__device__ __forceinline__ float pm_expm1_poly(float r) {
    float q = 1.0f / 5040.0f;
    q = q * r + 1.0f / 720.0f;
    q = q * r + 1.0f / 120.0f;
    q = q * r + 1.0f / 24.0f;
    q = q * r + 1.0f / 6.0f;
    q = q * r + 0.5f;
    return r + (r * r) * q;
}

// NumPy's float32 maximum/minimum, which propagate NaN (fmaxf/fminf return the other operand):
// pmath.exp clamps with xp.clip and pmath.log with xp.maximum, so a NaN (e.g. log(EC50/c) when
// EC50/c overflows to inf) stays NaN on both backends.
__device__ __forceinline__ float pm_maximum(float a, float b) { return (a >= b || a != a) ? a : b; }
__device__ __forceinline__ float pm_minimum(float a, float b) { return (a <= b || a != a) ? a : b; }

__device__ __forceinline__ float pm_exp(float x) {
    x = pm_minimum(pm_maximum(x, -87.0f), 88.0f);
    const float k = rintf(x * PM_LOG2E);
    const float r = (x - k * PM_LN2_HI) - k * PM_LN2_LO;
    const float p = pm_expm1_poly(r) + 1.0f;
    return ldexpf(p, (int)k);
}

__device__ __forceinline__ float pm_one_minus_exp_neg(float x) {
    if (x < PM_EXP_SMALL) return -pm_expm1_poly(-x);
    return 1.0f - pm_exp(-x);
}

__device__ __forceinline__ float pm_log(float x) {
    x = pm_minimum(pm_maximum(x, 1.1754944e-38f), 3.4028235e38f);  // log(inf) -> log(FLT_MAX), as pmath.log
    int e;
    float m = frexpf(x, &e);
    if (m < PM_SQRT_HALF) { m = m + m; e = e - 1; }
    const float ef = (float)e;
    const float f = m - 1.0f;
    const float s = f / (2.0f + f);
    const float s2 = s * s;
    float q = 1.0f / 9.0f;
    q = q * s2 + 1.0f / 7.0f;
    q = q * s2 + 1.0f / 5.0f;
    q = q * s2 + 1.0f / 3.0f;
    const float log_m = 2.0f * s + (2.0f * s) * (s2 * q);
    return ef * PM_LN2_HI + (ef * PM_LN2_LO + log_m);
}

__device__ __forceinline__ float pm_pow(float x, float n) {
    return x > 0.0f ? pm_exp(n * pm_log(x)) : 0.0f;
}

__device__ __forceinline__ float pm_hill(float c, float ec50, float n, float emax) {
    if (!(c > 0.0f)) return 0.0f;
    return emax / (1.0f + pm_pow(ec50 / c, n));
}
