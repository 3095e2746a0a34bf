// Philox4x32-10 counter-based generator: the CUDA twin of lattice/rng.py.
// Key (seed, replicate); counter (voxel, step, stream, draw). Same bits as the NumPy code.
#pragma once
#include "stdint.cuh"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

struct philox4 { uint32_t x, y, z, w; };

__device__ __forceinline__ philox4 philox4x32_10(philox4 c, uint32_t k0, uint32_t k1) {
#pragma unroll
    for (int round = 0; round < 10; ++round) {
        if (round) { k0 += PHILOX_W0; k1 += PHILOX_W1; }
        const uint32_t hi0 = __umulhi(PHILOX_M0, c.x), lo0 = PHILOX_M0 * c.x;
        const uint32_t hi1 = __umulhi(PHILOX_M1, c.z), lo1 = PHILOX_M1 * c.z;
        c = philox4{hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0};
    }
    return c;
}

// uint32 -> float32 uniform on [0, 1) from the top 24 bits (exact, as to_unit_float32).
__device__ __forceinline__ float philox_unit(uint32_t bits) {
    return (float)(bits >> 8) * 5.9604644775390625e-08f;  // 2^-24
}

// Four uniforms for (seed, replicate, voxel, step, stream, draw), in the order x, y, z, w.
__device__ __forceinline__ void philox_uniforms(uint32_t seed, uint32_t replicate, uint32_t voxel,
                                                uint32_t step, uint32_t stream, uint32_t draw,
                                                float out[4]) {
    const philox4 r = philox4x32_10(philox4{voxel, step, stream, draw}, seed, replicate);
    out[0] = philox_unit(r.x); out[1] = philox_unit(r.y);
    out[2] = philox_unit(r.z); out[3] = philox_unit(r.w);
}
