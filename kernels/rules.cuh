// Shared helpers of the per-voxel cell rules (cycle.cu, death.cu, drugs.cu, transitions.cu,
// mutation.cu): voxel indexing, random draws and NumPy's float semantics. Label codes, stream ids
// and plan constants come from the generated constants.cuh.
//
// Lattice (R, nz, ny, nx) in C order (2D runs have nz = 1), one thread per voxel v over R × nvox;
// fields (R, F, nvox). Random numbers: philox_uniforms(seed, r, i, step, stream, draw) with r the
// replicate and i the voxel's flat index inside its replicate, as lattice/rng.py.
//
// Exactness: these kernels are always compiled with --fmad=false and without flush-to-zero
// (kernels/_loader.py ieee_module, whatever the backend's `exact` is), so that every float32
// operation is one IEEE-rounded operation, subnormals included, in the order of the NumPy code
// and decisions are bit-identical to the reference.
#pragma once
#include "stdint.cuh"
#include "philox.cuh"
#include "pmath.cuh"
#include "constants.cuh"

// The first uniform of (stream, draw) for voxel i of replicate r: model.uniforms(...)[0].
__device__ __forceinline__ float uniform0(uint32_t seed, uint32_t r, uint32_t i, uint32_t step, uint32_t stream,
                                          uint32_t draw) {
    float u[4];
    philox_uniforms(seed, r, i, step, stream, draw, u);
    return u[0];
}

// NumPy's float32 minimum/maximum (NaN propagates, pmath.cuh) and clip = minimum(maximum(x, lo), hi).
__device__ __forceinline__ float np_minimum(float a, float b) { return pm_minimum(a, b); }
__device__ __forceinline__ float np_maximum(float a, float b) { return pm_maximum(a, b); }
__device__ __forceinline__ float np_clip(float x, float lo, float hi) { return np_minimum(np_maximum(x, lo), hi); }

// Channel ch of the fields (R, F, nvox) at voxel i of replicate r.
__device__ __forceinline__ float field_at(const float* fields, int n_fields, int ch, long r, long i, long nvox) {
    return fields[(r * n_fields + ch) * nvox + i];
}

// The voxel at offset (dz, dy, dx) from v, or false outside the lattice (as lattice.grid.shift
// with fill=False: no periodic wrap).
__device__ __forceinline__ bool rules_neighbour(int nz, int ny, int nx, long v, int dz, int dy, int dx, long* out) {
    const long nvox = (long)nz * ny * nx;
    const long r = v / nvox, i = v % nvox;
    const int x = (int)(i % nx), y = (int)((i / nx) % ny), z = (int)(i / ((long)nx * ny));
    const int zz = z + dz, yy = y + dy, xx = x + dx;
    if (zz < 0 || zz >= nz || yy < 0 || yy >= ny || xx < 0 || xx >= nx) return false;
    *out = r * nvox + ((long)zz * ny + yy) * nx + xx;
    return true;
}
