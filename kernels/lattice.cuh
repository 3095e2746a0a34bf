// Lattice indexing shared by the per-voxel kernels: arrays (R, nz, ny, nx) in C order, 2D runs
// with nz = 1, one thread per voxel v in [0, R·nz·ny·nx).
#pragma once

struct Dims { int R, nz, ny, nx; };

// The voxel at offset (dz, dy, dx) from v within the same replicate, or false outside the lattice.
__device__ __forceinline__ bool neighbour(const Dims d, long v, int dz, int dy, int dx, long* out) {
    const long nvox = (long)d.nz * d.ny * d.nx;
    const long r = v / nvox, i = v % nvox;
    const int x = (int)(i % d.nx), y = (int)((i / d.nx) % d.ny), z = (int)(i / ((long)d.nx * d.ny));
    const int zz = z + dz, yy = y + dy, xx = x + dx;
    if (zz < 0 || zz >= d.nz || yy < 0 || yy >= d.ny || xx < 0 || xx >= d.nx) return false;
    *out = r * nvox + ((long)zz * d.ny + yy) * d.nx + xx;
    return true;
}
