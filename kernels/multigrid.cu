// Geometric multigrid for backward Euler on the reaction–diffusion operator: the CUDA twin of
// lattice/solvers/multigrid.py. Every float operation is the NumPy reference's, in its order (its
// docstring, "Operation order"), so that with --fmad=false the two give identical bits.
// The launcher is kernels/multigrid.py; it sets up the hierarchy's tables once per
// (shape, boundary) and runs the fixed sequence of launches of a solve (optionally as a graph).
//
// Layout ("colour-split"). Level l has shape (nz, ny, nx) (2D lattices: nz = 1, three_d = 0).
// A voxel (z, y, x) has colour (x + y + z) & 1 (red = 0, relaxed first). Per field, each colour
// is stored in its own array of rows × hx slots, hx = ⌈nx/2⌉, slot (z·ny + y)·hx + (x >> 1):
// the voxels of one colour in a row have x of one parity, so x >> 1 tells them apart.
//   - the iterate c: two colour arrays c0, c1 of shape (B, rows·hx), passed as two pointers;
//     each colour has two buffers (ping-pong, chosen by the launcher);
//   - f, a0, w ("split fields"): one array (B, 2, rows·hx), colour-major inside a field.
// A red–black half-sweep then reads only the slots of its colour (f, a0, own c) plus the other
// colour's c, and writes its colour's c into the other buffer of that colour: a periodic axis
// of odd length has same-colour wrap neighbours, which must be read before the sweep (NumPy reads
// them from ghosts filled before the half-sweep), and the ping-pong makes that race-free.
//
// Ghosts are not stored: a face neighbour outside the lattice is the ghost rule of
// lattice/solvers/stencil.py evaluated from the voxel's own value (zero flux c, Dirichlet
// 2g − c on the finest level and −c on coarse levels) or the voxel on the opposite side
// (periodic), exactly the value NumPy's fill_ghosts writes before each sweep.
//
// Thread mapping: blockIdx.y = field b (B ≤ 65535); blockIdx.x = row · nch + chunk over the rows
// (z, y) of a level, threads along x (or along the colour slots m for half-sweeps), so the
// integer divisions are block-uniform. Indices into arrays are 64-bit.
//
// Host build (kernels/_host.py, LATTICE_HOST defined): the two kernels that need block-shared
// memory and barriers (mg_lu, mg_coarse_solve) have a host body in which thread 0 of each block
// does the block's work serially, in the same operation order, so the results are the same bits.
// For speed, mg_smooth, mg_restrict, mg_prolong, mg_setup0 and mg_output have host bodies too:
// loops over a row's voxels (interior voxels of interior rows in one vectorisable straight-line
// loop, host_interior), again with the device's operations in the device's order. Every host
// body is marked LATTICE_HOST_BLOCK_KERNEL: called once per block, not once per thread. The
// device code is compiled only under #ifndef LATTICE_HOST and is unchanged by them.

#define BND_ZERO_FLUX 0
#define BND_DIRICHLET 1
#define BND_PERIODIC 2
#define MG_MAXN 64  // unknowns of the coarsest level: every axis <= 4

typedef long long i64;

// One level's geometry. gt: float32 face factors [gl_z(nz) gh_z(nz) gl_y(ny) gh_y(ny) gl_x(nx)
// gh_x(nx)] (read only on non-uniform levels); wt: float64 diagonal geometry per axis
// [weff_z(nz) weff_y(ny) weff_x(nx)] (2D: one unused z entry of each).
struct Lev {
    int nz, ny, nx, hx, three_d, bnd, uniform;
    float scale;
    const float* gt;
    const double* wt;
};

#define LEVEL_PARAMS                                                                              \
    int nz, int ny, int nx, int hx, int three_d, int bnd, int uniform, float scale,               \
        const float *__restrict__ gt, const double *__restrict__ wt
#define LEVEL_INIT {nz, ny, nx, hx, three_d, bnd, uniform, scale, gt, wt}

// What the residual at one voxel of one field needs.
struct Ctx {
    Lev L;
    i64 cs;         // slots per colour per field: nz·ny·hx
    int b;          // field
    float alpha_l;  // α on uniform levels scaled by 4^-l, else α
    float g2;       // 2g (Dirichlet, finest level)
    int inhom;      // Dirichlet ghosts 2g − c (finest level) instead of −c
    const float* c0;
    const float* c1;
    const float* f;
    const float* a0;
};

__device__ __forceinline__ i64 slot(const Lev& L, int z, int y, int x) {
    return ((i64)z * L.ny + y) * L.hx + (x >> 1);
}

__device__ __forceinline__ float cval(const Ctx& k, int z, int y, int x) {
    const i64 o = (i64)k.b * k.cs + slot(k.L, z, y, x);
    return ((x + y + z) & 1) ? k.c1[o] : k.c0[o];
}

__device__ __forceinline__ i64 split_index(const Lev& L, i64 cs, int b, int z, int y, int x) {
    return (2 * (i64)b + ((x + y + z) & 1)) * cs + slot(L, z, y, x);
}

// Ghost of a voxel with value c on a non-periodic face.
__device__ __forceinline__ float face_ghost(const Ctx& k, float c) {
    if (k.L.bnd == BND_ZERO_FLUX) return c;
    return k.inhom ? (k.g2 - c) : -c;
}

// One axis of the flux sum: (lo − c) + (hi − c), or gl·(lo − c) + gh·(hi − c) on non-uniform levels.
__device__ __forceinline__ float axis_term(const Lev& L, float lo, float hi, float c, const float* gl,
                                           const float* gh, int i) {
    float a = lo - c;
    float b = hi - c;
    if (!L.uniform) {
        a = a * gl[i];
        b = b * gh[i];
    }
    return a + b;
}

// r = (f − a0·c) + α_l·acc at (z, y, x), acc = (t_z + t_y) + t_x (2D: t_y + t_x). Returns r; own
// value and a0 through cv, av.
__device__ __forceinline__ float residual_at(const Ctx& k, int z, int y, int x, float* cv, float* av) {
    const Lev& L = k.L;
    const float c = cval(k, z, y, x);
    const float* gt = L.gt;
    float lo, hi;
    // x (last axis)
    if (x > 0) lo = cval(k, z, y, x - 1);
    else lo = L.bnd == BND_PERIODIC ? cval(k, z, y, L.nx - 1) : face_ghost(k, c);
    if (x < L.nx - 1) hi = cval(k, z, y, x + 1);
    else hi = L.bnd == BND_PERIODIC ? cval(k, z, y, 0) : face_ghost(k, c);
    const float tx = axis_term(L, lo, hi, c, gt + 2 * L.nz + 2 * L.ny, gt + 2 * L.nz + 2 * L.ny + L.nx, x);
    // y
    if (y > 0) lo = cval(k, z, y - 1, x);
    else lo = L.bnd == BND_PERIODIC ? cval(k, z, L.ny - 1, x) : face_ghost(k, c);
    if (y < L.ny - 1) hi = cval(k, z, y + 1, x);
    else hi = L.bnd == BND_PERIODIC ? cval(k, z, 0, x) : face_ghost(k, c);
    const float ty = axis_term(L, lo, hi, c, gt + 2 * L.nz, gt + 2 * L.nz + L.ny, y);
    float acc;
    if (L.three_d) {
        if (z > 0) lo = cval(k, z - 1, y, x);
        else lo = L.bnd == BND_PERIODIC ? cval(k, L.nz - 1, y, x) : face_ghost(k, c);
        if (z < L.nz - 1) hi = cval(k, z + 1, y, x);
        else hi = L.bnd == BND_PERIODIC ? cval(k, 0, y, x) : face_ghost(k, c);
        const float tz = axis_term(L, lo, hi, c, gt, gt + L.nz, z);
        acc = (tz + ty) + tx;
    } else {
        acc = ty + tx;
    }
    const i64 si = split_index(L, k.cs, k.b, z, y, x);
    const float fv = k.f[si];
    const float a = k.a0[si];
    *cv = c;
    *av = a;
    const float ac = a * c;
    const float rf = fv - ac;
    const float ra = acc * k.alpha_l;
    return rf + ra;
}

// W = float32(Σ_axes weff) summed in float64, first axis first.
__device__ __forceinline__ float diag_geometry(const Lev& L, int z, int y, int x) {
    const double* wt = L.wt;
    double s;
    if (L.three_d) {
        s = wt[z] + wt[L.nz + y];
        s = s + wt[L.nz + L.ny + x];
    } else {
        s = wt[L.nz + y] + wt[L.nz + L.ny + x];
    }
    return (float)s;
}

// Volume-weighted restriction of 2×2(×2) children, one axis after the other (z, y, x):
// y = (x_even·a) + (x_odd·b).
__device__ __forceinline__ float restrict_children(const float v[2][2][2], int three_d, float az, float bz,
                                                   float ay, float by, float ax, float bx) {
    float y1[2];
    if (three_d) {
        float y0[2][2];
#pragma unroll
        for (int dy = 0; dy < 2; ++dy)
#pragma unroll
            for (int dx = 0; dx < 2; ++dx) {
                const float p = v[0][dy][dx] * az;
                const float q = v[1][dy][dx] * bz;
                y0[dy][dx] = p + q;
            }
#pragma unroll
        for (int dx = 0; dx < 2; ++dx) {
            const float p = y0[0][dx] * ay;
            const float q = y0[1][dx] * by;
            y1[dx] = p + q;
        }
    } else {
#pragma unroll
        for (int dx = 0; dx < 2; ++dx) {
            const float p = v[0][0][dx] * ay;
            const float q = v[0][1][dx] * by;
            y1[dx] = p + q;
        }
    }
    const float p = y1[0] * ax;
    const float q = y1[1] * bx;
    return p + q;
}

// ---------------------------------------------------------------------------------------------
// Per-solve coefficients (B values): α (float64 and float32), λ, 2g. A length-1 input broadcasts.
extern "C" __global__ void mg_params(int B, int nD, int nL, int nG, double k, const double* __restrict__ D,
                                     const float* __restrict__ decay, const float* __restrict__ g,
                                     float* __restrict__ alpha32, double* __restrict__ alpha64,
                                     float* __restrict__ lam, float* __restrict__ two_g) {
    const int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B) return;
    const double a = D[nD == 1 ? 0 : b] * k;
    alpha64[b] = a;
    alpha32[b] = (float)a;
    lam[b] = decay[nL == 1 ? 0 : b];
    const float gv = nG > 0 ? g[nG == 1 ? 0 : b] : 0.0f;
    two_g[b] = gv + gv;
}

#ifndef LATTICE_HOST
// Finest level from the natural (B, nz, ny, nx) input: c, f = c + s·dt, a0 = (λ + u)·dt + 1.
extern "C" __global__ void __launch_bounds__(256)
    mg_setup0(int nz, int ny, int nx, int hx, i64 cs, int nch, int has_u, int has_s, float dt32,
              const float* __restrict__ cin, const float* __restrict__ u, const float* __restrict__ s,
              const float* __restrict__ lam, float* __restrict__ c0, float* __restrict__ c1,
              float* __restrict__ f, float* __restrict__ a0) {
    const int row = blockIdx.x / nch;
    const int x = (blockIdx.x - row * nch) * blockDim.x + threadIdx.x;
    if (x >= nx) return;
    const int b = blockIdx.y;
    const int z = row / ny, y = row - z * ny;
    const i64 nat = (((i64)b * nz + z) * ny + y) * nx + x;
    const float c = cin[nat];
    const float l = lam[b];
    float a;
    if (has_u) {
        const float t = l + u[nat];
        a = t * dt32;
    } else {
        a = l * dt32;
    }
    a = a + 1.0f;
    float fv = c;
    if (has_s) {
        const float t = s[nat] * dt32;
        fv = c + t;
    }
    const int col = (x + y + z) & 1;
    const i64 sl = ((i64)z * ny + y) * hx + (x >> 1);
    (col ? c1 : c0)[(i64)b * cs + sl] = c;
    f[(2 * (i64)b + col) * cs + sl] = fv;
    a0[(2 * (i64)b + col) * cs + sl] = a;
}

#else  // LATTICE_HOST: thread 0 does the block's voxels of its row in one loop (same operations).
extern "C" __global__ void mg_setup0(int nz, int ny, int nx, int hx, i64 cs, int nch, int has_u, int has_s,
                                     float dt32, const float* __restrict__ cin, const float* __restrict__ u,
                                     const float* __restrict__ s, const float* __restrict__ lam,
                                     float* __restrict__ c0, float* __restrict__ c1, float* __restrict__ f,
                                     float* __restrict__ a0) {
    const int row = blockIdx.x / nch;
    const int x0 = (blockIdx.x - row * nch) * blockDim.x;
    const int x1 = min(x0 + (int)blockDim.x, nx);
    const int b = blockIdx.y;
    const int z = row / ny, y = row - z * ny;
    const float l = lam[b];
    const i64 nat = (((i64)b * nz + z) * ny + y) * nx;
    const i64 sl = ((i64)z * ny + y) * hx;
    for (int x = x0; x < x1; ++x) {
        const float c = cin[nat + x];
        float a;
        if (has_u) {
            const float t = l + u[nat + x];
            a = t * dt32;
        } else {
            a = l * dt32;
        }
        a = a + 1.0f;
        float fv = c;
        if (has_s) {
            const float t = s[nat + x] * dt32;
            fv = c + t;
        }
        const int col = (x + y + z) & 1;
        const i64 o = sl + (x >> 1);
        (col ? c1 : c0)[(i64)b * cs + o] = c;
        f[(2 * (i64)b + col) * cs + o] = fv;
        a0[(2 * (i64)b + col) * cs + o] = a;
    }
}
LATTICE_HOST_BLOCK_KERNEL(mg_setup0, 1L << 19)
#endif

#ifndef LATTICE_HOST
// Restriction weights and reaction of level l+1 from level l: num = R(a0·w), den = R(w),
// a0_c = num/den (level 0: w = 1/(a0 + α·2·ndim), num = a0·w). num is kept in the coarse f
// buffer (overwritten by the first restriction of a cycle), den in the coarse w buffer.
extern "C" __global__ void __launch_bounds__(256)
    mg_coarse_setup(int nz, int ny, int nx, int hx, i64 cs, int three_d, int first, float nd2,
                    const float* __restrict__ a0f, const float* __restrict__ numf,
                    const float* __restrict__ denf, const float* __restrict__ alpha32,
                    const float* __restrict__ rt, int mz, int my, int mx, int hxc, i64 csc, int nch,
                    float* __restrict__ numc, float* __restrict__ denc, float* __restrict__ a0c) {
    const int row = blockIdx.x / nch;
    const int X = (blockIdx.x - row * nch) * blockDim.x + threadIdx.x;
    if (X >= mx) return;
    const int b = blockIdx.y;
    const int Z = row / my, Y = row - Z * my;
    const Lev L = {nz, ny, nx, hx, three_d, 0, 1, 1.0f, 0, 0};
    const int zs[2] = {three_d ? 2 * Z : 0, three_d ? min(2 * Z + 1, nz - 1) : 0};
    const int ys[2] = {2 * Y, min(2 * Y + 1, ny - 1)};
    const int xs[2] = {2 * X, min(2 * X + 1, nx - 1)};
    const float al = alpha32[b];
    float vn[2][2][2], vd[2][2][2];
#pragma unroll
    for (int dz = 0; dz < 2; ++dz)
#pragma unroll
        for (int dy = 0; dy < 2; ++dy)
#pragma unroll
            for (int dx = 0; dx < 2; ++dx) {
                if (dz == 1 && !three_d) {
                    vn[dz][dy][dx] = 0.0f;
                    vd[dz][dy][dx] = 0.0f;
                    continue;
                }
                const i64 si = split_index(L, cs, b, zs[dz], ys[dy], xs[dx]);
                float num, den;
                if (first) {
                    const float a = a0f[si];
                    const float t = al * nd2;
                    den = 1.0f / (a + t);
                    num = a * den;
                } else {
                    num = numf[si];
                    den = denf[si];
                }
                vn[dz][dy][dx] = num;
                vd[dz][dy][dx] = den;
            }
    const float az = rt[Z], bz = rt[mz + Z];
    const float ay = rt[2 * mz + Y], by = rt[2 * mz + my + Y];
    const float ax = rt[2 * mz + 2 * my + X], bx = rt[2 * mz + 2 * my + mx + X];
    const float nc = restrict_children(vn, three_d, az, bz, ay, by, ax, bx);
    const float dc = restrict_children(vd, three_d, az, bz, ay, by, ax, bx);
    const Lev C = {mz, my, mx, hxc, three_d, 0, 1, 1.0f, 0, 0};
    const i64 so = split_index(C, csc, b, Z, Y, X);
    numc[so] = nc;
    denc[so] = dc;
    a0c[so] = nc / dc;
}

#else  // LATTICE_HOST: thread 0 does the block's coarse voxels of its row in one loop (the device
       // body per X, without a call and the index divisions per voxel).
extern "C" __global__ void mg_coarse_setup(int nz, int ny, int nx, int hx, i64 cs, int three_d, int first, float nd2,
                                           const float* __restrict__ a0f, const float* __restrict__ numf,
                                           const float* __restrict__ denf, const float* __restrict__ alpha32,
                                           const float* __restrict__ rt, int mz, int my, int mx, int hxc, i64 csc,
                                           int nch, float* __restrict__ numc, float* __restrict__ denc,
                                           float* __restrict__ a0c) {
    const int row = blockIdx.x / nch;
    const int X0 = (blockIdx.x - row * nch) * blockDim.x;
    const int X1 = min(X0 + (int)blockDim.x, mx);
    const int b = blockIdx.y;
    const int Z = row / my, Y = row - Z * my;
    const Lev L = {nz, ny, nx, hx, three_d, 0, 1, 1.0f, 0, 0};
    const Lev C = {mz, my, mx, hxc, three_d, 0, 1, 1.0f, 0, 0};
    const int zs[2] = {three_d ? 2 * Z : 0, three_d ? min(2 * Z + 1, nz - 1) : 0};
    const int ys[2] = {2 * Y, min(2 * Y + 1, ny - 1)};
    const float al = alpha32[b];
    const float az = rt[Z], bz = rt[mz + Z];
    const float ay = rt[2 * mz + Y], by = rt[2 * mz + my + Y];
    for (int X = X0; X < X1; ++X) {
        const int xs[2] = {2 * X, min(2 * X + 1, nx - 1)};
        float vn[2][2][2], vd[2][2][2];
        for (int dz = 0; dz < 2; ++dz)
            for (int dy = 0; dy < 2; ++dy)
                for (int dx = 0; dx < 2; ++dx) {
                    if (dz == 1 && !three_d) {
                        vn[dz][dy][dx] = 0.0f;
                        vd[dz][dy][dx] = 0.0f;
                        continue;
                    }
                    const i64 si = split_index(L, cs, b, zs[dz], ys[dy], xs[dx]);
                    float num, den;
                    if (first) {
                        const float a = a0f[si];
                        const float t = al * nd2;
                        den = 1.0f / (a + t);
                        num = a * den;
                    } else {
                        num = numf[si];
                        den = denf[si];
                    }
                    vn[dz][dy][dx] = num;
                    vd[dz][dy][dx] = den;
                }
        const float ax = rt[2 * mz + 2 * my + X], bx = rt[2 * mz + 2 * my + mx + X];
        const float nc = restrict_children(vn, three_d, az, bz, ay, by, ax, bx);
        const float dc = restrict_children(vd, three_d, az, bz, ay, by, ax, bx);
        const i64 so = split_index(C, csc, b, Z, Y, X);
        numc[so] = nc;
        denc[so] = dc;
        a0c[so] = nc / dc;
    }
}
LATTICE_HOST_BLOCK_KERNEL(mg_coarse_setup, 1L << 16)  // threads = coarse voxels, ~13 ns each
#endif

#ifndef LATTICE_HOST
// Dense LU without pivoting, float64, of the coarsest operator of each field (one block per
// field): A_ii = a0_i + α·W64_i, A_ij = −α·G_ij; then for k: A_ik /= A_kk (i > k),
// A_ij −= A_ik·A_kj (i, j > k).
extern "C" __global__ void __launch_bounds__(256)
    mg_lu(int nz, int ny, int nx, int hx, i64 cs, const float* __restrict__ a0,
          const double* __restrict__ alpha64, const double* __restrict__ w64, const double* __restrict__ G,
          double* __restrict__ LU) {
    __shared__ double A[MG_MAXN * MG_MAXN];
    const int n = nz * ny * nx;
    const int b = blockIdx.x;
    const double al = alpha64[b];
    const Lev L = {nz, ny, nx, hx, 1, 0, 1, 1.0f, 0, 0};
    for (int t = threadIdx.x; t < n * n; t += blockDim.x) {
        const int i = t / n, j = t - (t / n) * n;
        double v;
        if (i == j) {
            const int x = i % nx, y = (i / nx) % ny, z = i / (nx * ny);
            const double a = (double)a0[split_index(L, cs, b, z, y, x)];
            const double d = al * w64[i];
            v = a + d;
        } else {
            const double g = G[t];
            const double na = -al;
            v = g != 0.0 ? na * g : 0.0;
        }
        A[t] = v;
    }
    __syncthreads();
    for (int k = 0; k < n - 1; ++k) {
        const double akk = A[k * n + k];
        for (int i = k + 1 + threadIdx.x; i < n; i += blockDim.x) A[i * n + k] = A[i * n + k] / akk;
        __syncthreads();
        const int m = n - k - 1;
        for (int t = threadIdx.x; t < m * m; t += blockDim.x) {
            const int i = k + 1 + t / m, j = k + 1 + (t - (t / m) * m);
            const double p = A[i * n + k] * A[k * n + j];
            A[i * n + j] = A[i * n + j] - p;
        }
        __syncthreads();
    }
    for (int t = threadIdx.x; t < n * n; t += blockDim.x) LU[(i64)b * n * n + t] = A[t];
}

#else  // LATTICE_HOST: the host build (kernels/_host.py) has no block-shared memory; thread 0
       // of the block factorises the field's matrix in place in LU, same operations and order.
extern "C" __global__ void mg_lu(int nz, int ny, int nx, int hx, i64 cs, const float* __restrict__ a0,
                                 const double* __restrict__ alpha64, const double* __restrict__ w64,
                                 const double* __restrict__ G, double* __restrict__ LU) {
    if (threadIdx.x != 0) return;
    const int n = nz * ny * nx;
    const int b = blockIdx.x;
    const double al = alpha64[b];
    const Lev L = {nz, ny, nx, hx, 1, 0, 1, 1.0f, 0, 0};
    double* A = LU + (i64)b * n * n;
    for (int t = 0; t < n * n; ++t) {
        const int i = t / n, j = t - (t / n) * n;
        double v;
        if (i == j) {
            const int x = i % nx, y = (i / nx) % ny, z = i / (nx * ny);
            const double a = (double)a0[split_index(L, cs, b, z, y, x)];
            const double d = al * w64[i];
            v = a + d;
        } else {
            const double g = G[t];
            const double na = -al;
            v = g != 0.0 ? na * g : 0.0;
        }
        A[t] = v;
    }
    for (int k = 0; k < n - 1; ++k) {
        const double akk = A[k * n + k];
        for (int i = k + 1; i < n; ++i) A[i * n + k] = A[i * n + k] / akk;
        for (int i = k + 1; i < n; ++i)
            for (int j = k + 1; j < n; ++j) {
                const double p = A[i * n + k] * A[k * n + j];
                A[i * n + j] = A[i * n + j] - p;
            }
    }
}
LATTICE_HOST_BLOCK_KERNEL(mg_lu, LATTICE_PARALLEL_MIN)
#endif

#ifndef LATTICE_HOST
// One red–black half-sweep of one colour on one level: c ← c + r·inv, inv = 1/(a0 + α·W).
// Reads c from cin0/cin1 (the current buffers of both colours), writes the colour's c to cout.
extern "C" __global__ void __launch_bounds__(256)
    mg_smooth(LEVEL_PARAMS, i64 cs, int nch, int colour, int inhom, const float* __restrict__ cin0,
              const float* __restrict__ cin1, float* __restrict__ cout, const float* __restrict__ f,
              const float* __restrict__ a0, const float* __restrict__ alpha32,
              const float* __restrict__ two_g) {
    const int row = blockIdx.x / nch;
    const int m = (blockIdx.x - row * nch) * blockDim.x + threadIdx.x;
    const int b = blockIdx.y;
    const int z = row / ny, y = row - z * ny;
    const int x = 2 * m + ((colour + y + z) & 1);
    if (x >= nx) return;
    const Lev L = LEVEL_INIT;
    const float al = alpha32[b];
    const Ctx k = {L, cs, b, uniform ? al * scale : al, two_g[b], inhom, cin0, cin1, f, a0};
    float c, a;
    const float r = residual_at(k, z, y, x, &c, &a);
    const float W = diag_geometry(L, z, y, x);
    const float d = al * W;
    const float inv = 1.0f / (a + d);
    const float dc = r * inv;
    cout[(i64)b * cs + slot(L, z, y, x)] = c + dc;
}

#else  // LATTICE_HOST: thread 0 of each block relaxes the block's slots of its row in one loop. On
       // interior rows the interior voxels take a straight-line body over contiguous slots (the
       // neighbours along x are slots m − 1 + p and m + p of the other colour, along y and z slot m
       // of the rows around) that the compiler vectorises; edges and boundary rows take the
       // per-voxel code above. Every voxel gets the device's operations in the device's order.
#include <vector>

// The interior voxels m ∈ [lo, hi) of one colour (x = 2m + p) of an interior row: residual_at's
// operations in its order with every neighbour in the lattice, as one straight-line loop over
// contiguous slots (x neighbours: slots m − 1 + p and m + p of the other colour; y and z: slot m
// of the rows around), specialised on the level's kind so that the compiler vectorises it.
// SMOOTH: out[m] = c + r·(1/(a0 + α·W)) (a half-sweep), else out[m] = r.
struct HostRow {
    const float *own, *oth, *ym, *yp, *zm, *zp, *fr, *ar, *gl_x, *gh_x;
    float gly, ghy, glz, ghz, alpha_l, al;
    double wzy;
    const double* wx;
};

template <bool UNIFORM, bool THREE_D, bool SMOOTH>
static void host_interior(const HostRow& R, int lo, int hi, int p, float* __restrict__ out) {
    const float* __restrict__ own = R.own;
    const float* __restrict__ oth = R.oth;
    const float* __restrict__ ym = R.ym;
    const float* __restrict__ yp = R.yp;
    const float* __restrict__ zm = R.zm;
    const float* __restrict__ zp = R.zp;
    const float* __restrict__ fr = R.fr;
    const float* __restrict__ ar = R.ar;
    const float* __restrict__ gl_x = R.gl_x;
    const float* __restrict__ gh_x = R.gh_x;
    const double* __restrict__ wx = R.wx;
    const float gly = R.gly, ghy = R.ghy, glz = R.glz, ghz = R.ghz, alpha_l = R.alpha_l, al = R.al;
    const double wzy = R.wzy;
    // On uniform levels every interior x has the same weff (checked by kernels/multigrid.py
    // host_tables), so W = float(wzy + weff_x) is the same for the whole loop.
    const float W_row = UNIFORM && SMOOTH && hi > lo ? (float)(wzy + wx[2 * lo + p]) : 0.0f;
    for (int m = lo; m < hi; ++m) {
        const int x = 2 * m + p;
        const float c = own[m];
        float ta = oth[m - 1 + p] - c;
        float tb = oth[m + p] - c;
        if (!UNIFORM) {
            ta = ta * gl_x[x];
            tb = tb * gh_x[x];
        }
        const float tx = ta + tb;
        ta = ym[m] - c;
        tb = yp[m] - c;
        if (!UNIFORM) {
            ta = ta * gly;
            tb = tb * ghy;
        }
        const float ty = ta + tb;
        float acc;
        if (THREE_D) {
            ta = zm[m] - c;
            tb = zp[m] - c;
            if (!UNIFORM) {
                ta = ta * glz;
                tb = tb * ghz;
            }
            const float tz = ta + tb;
            acc = (tz + ty) + tx;
        } else {
            acc = ty + tx;
        }
        const float a = ar[m];
        const float ac = a * c;
        const float rf = fr[m] - ac;
        const float ra = acc * alpha_l;
        const float r = rf + ra;
        if (SMOOTH) {
            const float W = UNIFORM ? W_row : (float)(wzy + wx[x]);
            const float d = al * W;
            const float inv = 1.0f / (a + d);
            const float dc = r * inv;
            out[m] = c + dc;
        } else {
            out[m] = r;
        }
    }
}

template <bool SMOOTH>
static void host_interior_any(const HostRow& R, int uniform, int three_d, int lo, int hi, int p, float* out) {
    if (uniform) {
        if (three_d) host_interior<true, true, SMOOTH>(R, lo, hi, p, out);
        else host_interior<true, false, SMOOTH>(R, lo, hi, p, out);
    } else {
        if (three_d) host_interior<false, true, SMOOTH>(R, lo, hi, p, out);
        else host_interior<false, false, SMOOTH>(R, lo, hi, p, out);
    }
}

// The HostRow of one colour of row (z, y) of field b.
static HostRow host_row(const Ctx& k, int z, int y, int colour) {
    const Lev& L = k.L;
    const int nz = L.nz, ny = L.ny, nx = L.nx, hx = L.hx;
    const i64 row = (i64)z * ny + y;
    const i64 rb = (i64)k.b * k.cs + row * hx;
    const float* oth = (colour ? k.c0 : k.c1) + rb;
    const i64 plane = L.three_d ? (i64)ny * hx : 0;
    const i64 sb = (2 * (i64)k.b + colour) * k.cs + row * hx;
    const float* gt = L.gt;
    const double* wt = L.wt;
    HostRow R;
    R.own = (colour ? k.c1 : k.c0) + rb;
    R.oth = oth;
    R.ym = oth - hx;
    R.yp = oth + hx;
    R.zm = oth - plane;
    R.zp = oth + plane;
    R.fr = k.f + sb;
    R.ar = k.a0 + sb;
    R.gl_x = gt + 2 * nz + 2 * ny;
    R.gh_x = R.gl_x + nx;
    R.gly = gt[2 * nz + y];
    R.ghy = gt[2 * nz + ny + y];
    R.glz = gt[z];
    R.ghz = gt[nz + z];
    R.alpha_l = k.alpha_l;
    R.al = 0.0f;
    R.wzy = L.three_d ? wt[z] + wt[nz + y] : wt[nz + y];
    R.wx = wt + nz + ny;
    return R;
}

extern "C" __global__ void mg_smooth(LEVEL_PARAMS, i64 cs, int nch, int colour, int inhom,
                                     const float* __restrict__ cin0, const float* __restrict__ cin1,
                                     float* __restrict__ cout, const float* __restrict__ f,
                                     const float* __restrict__ a0, const float* __restrict__ alpha32,
                                     const float* __restrict__ two_g) {
    if (threadIdx.x != 0) return;
    const int row = blockIdx.x / nch;
    const int m0 = (blockIdx.x - row * nch) * blockDim.x;
    const int b = blockIdx.y;
    const int z = row / ny, y = row - z * ny;
    const int p = (colour + y + z) & 1;  // parity of x of this colour's voxels in the row
    const int m1 = min(m0 + (int)blockDim.x, (nx - p + 1) / 2);
    if (m1 <= m0) return;
    const Lev L = LEVEL_INIT;
    const float al = alpha32[b];
    const float alpha_l = uniform ? al * scale : al;
    const Ctx k = {L, cs, b, alpha_l, two_g[b], inhom, cin0, cin1, f, a0};
    const i64 rb = (i64)b * cs + (i64)row * hx;
    float* __restrict__ out = cout + rb;
    auto one = [&](int m) {  // the device kernel's body
        const int x = 2 * m + p;
        float c, a;
        const float r = residual_at(k, z, y, x, &c, &a);
        const float W = diag_geometry(L, z, y, x);
        const float d = al * W;
        const float inv = 1.0f / (a + d);
        const float dc = r * inv;
        out[m] = c + dc;
    };
    const bool inner_row = y > 0 && y < ny - 1 && (!three_d || (z > 0 && z < nz - 1));
    // interior x in [1, nx - 2]: m from (p == 0) to (nx − 2 − p)/2
    int lo_m = p == 0 ? 1 : 0, hi_m = nx - 2 - p >= 0 ? (nx - 2 - p) / 2 + 1 : 0;
    if (!inner_row) lo_m = hi_m = m1;
    lo_m = max(lo_m, m0);
    hi_m = min(hi_m, m1);
    if (hi_m < lo_m) hi_m = lo_m;
    for (int m = m0; m < lo_m; ++m) one(m);
    if (hi_m > lo_m) {
        HostRow R = host_row(k, z, y, colour);
        R.al = al;
        host_interior_any<true>(R, uniform, three_d, lo_m, hi_m, p, cout + rb);
    }
    for (int m = hi_m; m < m1; ++m) one(m);
}
LATTICE_HOST_BLOCK_KERNEL(mg_smooth, 1L << 18)  // threads ~ voxels of one colour, ~1.5 ns each
#endif

#ifndef LATTICE_HOST
// Residual of level l, weighted and restricted onto level l+1 (one thread per coarse voxel):
// f_c = R(r·w) · (1/w_c); the coarse iterate is set to 0 (both colours' current buffers).
extern "C" __global__ void __launch_bounds__(256, 6)  // 40 registers, no spills (sm_80, sm_90)
    mg_restrict(LEVEL_PARAMS, i64 cs, int inhom, int first, float nd2, const float* __restrict__ c0,
                const float* __restrict__ c1, const float* __restrict__ f, const float* __restrict__ a0,
                const float* __restrict__ w, const float* __restrict__ alpha32,
                const float* __restrict__ two_g, const float* __restrict__ rt, int mz, int my, int mx,
                int hxc, i64 csc, int nch, const float* __restrict__ wc, float* __restrict__ fc,
                float* __restrict__ cc0, float* __restrict__ cc1) {
    const int row = blockIdx.x / nch;
    const int X = (blockIdx.x - row * nch) * blockDim.x + threadIdx.x;
    if (X >= mx) return;
    const int b = blockIdx.y;
    const int Z = row / my, Y = row - Z * my;
    const Lev L = LEVEL_INIT;
    const float al = alpha32[b];
    const Ctx k = {L, cs, b, uniform ? al * scale : al, two_g[b], inhom, c0, c1, f, a0};
    const int zs[2] = {three_d ? 2 * Z : 0, three_d ? min(2 * Z + 1, nz - 1) : 0};
    const int ys[2] = {2 * Y, min(2 * Y + 1, ny - 1)};
    const int xs[2] = {2 * X, min(2 * X + 1, nx - 1)};
    float v[2][2][2];
#pragma unroll
    for (int dz = 0; dz < 2; ++dz)
#pragma unroll
        for (int dy = 0; dy < 2; ++dy)
#pragma unroll
            for (int dx = 0; dx < 2; ++dx) {
                if (dz == 1 && !three_d) {
                    v[dz][dy][dx] = 0.0f;
                    continue;
                }
                const int zz = zs[dz], yy = ys[dy], xx = xs[dx];
                float c, a;
                const float r = residual_at(k, zz, yy, xx, &c, &a);
                float wv;
                if (first) {
                    const float t = al * nd2;
                    wv = 1.0f / (a + t);
                } else {
                    wv = w[split_index(L, cs, b, zz, yy, xx)];
                }
                v[dz][dy][dx] = r * wv;
            }
    const float az = rt[Z], bz = rt[mz + Z];
    const float ay = rt[2 * mz + Y], by = rt[2 * mz + my + Y];
    const float ax = rt[2 * mz + 2 * my + X], bx = rt[2 * mz + 2 * my + mx + X];
    const float rw = restrict_children(v, three_d, az, bz, ay, by, ax, bx);
    const Lev C = {mz, my, mx, hxc, three_d, 0, 1, 1.0f, 0, 0};
    const i64 so = split_index(C, csc, b, Z, Y, X);
    const float iw = 1.0f / wc[so];
    fc[so] = rw * iw;
    const i64 o = (i64)b * csc + slot(C, Z, Y, X);
    if ((X + Y + Z) & 1) cc1[o] = 0.0f;
    else cc0[o] = 0.0f;
}
#else  // LATTICE_HOST: thread 0 of the first block of each coarse row does the whole row. The
       // residuals of the 2 (3D: 4) fine rows under it are computed per colour over contiguous slots
       // (host_residual_row: the half-sweep's straight-line body; edges through residual_at), weighted,
       // then restricted in the device's order. Every value gets the device's operations.
// r at every voxel of one colour of row (z, y): out[m] for x = 2m + p, p = (colour + y + z) & 1,
// m < (nx − p + 1)/2. Interior voxels of interior rows in one loop over contiguous slots.
static void host_residual_row(const Ctx& k, int z, int y, int colour, float* __restrict__ out) {
    const Lev& L = k.L;
    const int nz = L.nz, ny = L.ny, nx = L.nx, three_d = L.three_d;
    const int p = (colour + y + z) & 1;
    const int n = (nx - p + 1) / 2;
    const bool inner_row = y > 0 && y < ny - 1 && (!three_d || (z > 0 && z < nz - 1));
    int lo_m = p == 0 ? 1 : 0, hi_m = nx - 2 - p >= 0 ? (nx - 2 - p) / 2 + 1 : 0;
    if (!inner_row) lo_m = hi_m = n;
    lo_m = min(lo_m, n);
    hi_m = min(hi_m, n);
    if (hi_m < lo_m) hi_m = lo_m;
    float cdum, adum;
    for (int m = 0; m < lo_m; ++m) out[m] = residual_at(k, z, y, 2 * m + p, &cdum, &adum);
    if (hi_m > lo_m) host_interior_any<false>(host_row(k, z, y, colour), L.uniform, three_d, lo_m, hi_m, p, out);
    for (int m = hi_m; m < n; ++m) out[m] = residual_at(k, z, y, 2 * m + p, &cdum, &adum);
}

extern "C" __global__ void mg_restrict(LEVEL_PARAMS, i64 cs, int inhom, int first, float nd2, const float* __restrict__ c0,
                                       const float* __restrict__ c1, const float* __restrict__ f,
                                       const float* __restrict__ a0, const float* __restrict__ w,
                                       const float* __restrict__ alpha32, const float* __restrict__ two_g,
                                       const float* __restrict__ rt, int mz, int my, int mx, int hxc, i64 csc,
                                       int nch, const float* __restrict__ wc, float* __restrict__ fc,
                                       float* __restrict__ cc0, float* __restrict__ cc1) {
    if (threadIdx.x != 0) return;
    const int row = blockIdx.x / nch;
    if ((int)blockIdx.x != row * nch) return;  // the row's first block does the whole coarse row
    const int b = blockIdx.y;
    const int Z = row / my, Y = row - Z * my;
    const Lev L = LEVEL_INIT;
    const float al = alpha32[b];
    const Ctx k = {L, cs, b, uniform ? al * scale : al, two_g[b], inhom, c0, c1, f, a0};
    const int zs[2] = {three_d ? 2 * Z : 0, three_d ? min(2 * Z + 1, nz - 1) : 0};
    const int ys[2] = {2 * Y, min(2 * Y + 1, ny - 1)};
    // v[(dz·2 + dy)·2 + parity of x][m]: the weighted residual r·w of fine voxel x = 2m + parity
    thread_local std::vector<float> buf;
    if (buf.size() < (size_t)8 * hx) buf.resize((size_t)8 * hx);
    float* v[2][2][2];
    const float t = al * nd2;
    for (int dz = 0; dz < (three_d ? 2 : 1); ++dz)
        for (int dy = 0; dy < 2; ++dy) {
            const int zz = zs[dz], yy = ys[dy];
            for (int par = 0; par < 2; ++par) {
                float* __restrict__ out = buf.data() + (size_t)((dz * 2 + dy) * 2 + par) * hx;
                v[dz][dy][par] = out;
                const int colour = (par + yy + zz) & 1;
                host_residual_row(k, zz, yy, colour, out);
                const int n = (nx - par + 1) / 2;
                const i64 sb = (2 * (i64)b + colour) * cs + ((i64)zz * ny + yy) * hx;
                if (first) {
                    const float* __restrict__ ar = a0 + sb;
                    for (int m = 0; m < n; ++m) {
                        const float wv = 1.0f / (ar[m] + t);
                        out[m] = out[m] * wv;
                    }
                } else {
                    const float* __restrict__ wr = w + sb;
                    for (int m = 0; m < n; ++m) out[m] = out[m] * wr[m];
                }
            }
            if (nx & 1) v[dz][dy][1][nx / 2] = v[dz][dy][0][nx / 2];  // single child x = nx − 1
        }
    const float az = rt[Z], bz = rt[mz + Z];
    const float ay = rt[2 * mz + Y], by = rt[2 * mz + my + Y];
    const float* __restrict__ axt = rt + 2 * mz + 2 * my;
    const float* __restrict__ bxt = axt + mx;
    const i64 crow = (i64)Z * my + Y;
    for (int X = 0; X < mx; ++X) {
        float y1[2];
        for (int par = 0; par < 2; ++par) {
            if (three_d) {
                float y0[2];
                for (int dy = 0; dy < 2; ++dy) {
                    const float p = v[0][dy][par][X] * az;
                    const float q = v[1][dy][par][X] * bz;
                    y0[dy] = p + q;
                }
                const float p = y0[0] * ay;
                const float q = y0[1] * by;
                y1[par] = p + q;
            } else {
                const float p = v[0][0][par][X] * ay;
                const float q = v[0][1][par][X] * by;
                y1[par] = p + q;
            }
        }
        const float p = y1[0] * axt[X];
        const float q = y1[1] * bxt[X];
        const float rw = p + q;
        const int cc = (X + Y + Z) & 1;
        const i64 sl = crow * hxc + (X >> 1);
        const i64 so = (2 * (i64)b + cc) * csc + sl;
        const float iw = 1.0f / wc[so];
        fc[so] = rw * iw;
        (cc ? cc1 : cc0)[(i64)b * csc + sl] = 0.0f;
    }
}
LATTICE_HOST_BLOCK_KERNEL(mg_restrict, 1L << 15)  // threads = coarse voxels, ~16 ns each
#endif

// Index into a coarse axis padded by one ghost each side → the coarse index that ghost copies and
// whether it is negated (homogeneous Dirichlet ghost −e).
__device__ __forceinline__ int resolve_padded(int pi, int m, int bnd, bool* neg) {
    if (pi >= 1 && pi <= m) {
        *neg = false;
        return pi - 1;
    }
    *neg = bnd == BND_DIRICHLET;
    if (pi == 0) return bnd == BND_PERIODIC ? m - 1 : 0;
    return bnd == BND_PERIODIC ? 0 : m - 1;
}

#ifndef LATTICE_HOST
// c_l ← c_l + P(e), P = linear interpolation between the true coarse centres, axis by axis
// (z, y, x): y_i = (e[p_i]·wp_i) + (e[q_i]·wq_i) with ghosts beyond the edges.
// pt: int32 [p_z(nz) q_z(nz) p_y(ny) q_y(ny) p_x(nx) q_x(nx)] into the padded coarse axis;
// pw: float32 [wp_z wq_z wp_y wq_y wp_x wq_x] in the same layout.
extern "C" __global__ void __launch_bounds__(256)
    mg_prolong(int nz, int ny, int nx, int hx, i64 cs, int three_d, int bnd, int nch, int mz, int my, int mx,
               int hxc, i64 csc, const int* __restrict__ pt, const float* __restrict__ pw,
               const float* __restrict__ e0, const float* __restrict__ e1, float* c0, float* c1) {
    const int row = blockIdx.x / nch;
    const int x = (blockIdx.x - row * nch) * blockDim.x + threadIdx.x;
    if (x >= nx) return;
    const int b = blockIdx.y;
    const int z = row / ny, y = row - z * ny;
    const Lev C = {mz, my, mx, hxc, three_d, bnd, 1, 1.0f, 0, 0};
    const int oz = 0, oy = 2 * nz, ox = 2 * nz + 2 * ny;
    int jz[2] = {0, 0}, jy[2], jx[2];
    bool gz[2] = {false, false}, gy[2], gx[2];
    float wpz = 1.0f, wqz = 0.0f;
    if (three_d) {
        jz[0] = resolve_padded(pt[oz + z], mz, bnd, &gz[0]);
        jz[1] = resolve_padded(pt[oz + nz + z], mz, bnd, &gz[1]);
        wpz = pw[oz + z];
        wqz = pw[oz + nz + z];
    }
    jy[0] = resolve_padded(pt[oy + y], my, bnd, &gy[0]);
    jy[1] = resolve_padded(pt[oy + ny + y], my, bnd, &gy[1]);
    jx[0] = resolve_padded(pt[ox + x], mx, bnd, &gx[0]);
    jx[1] = resolve_padded(pt[ox + nx + x], mx, bnd, &gx[1]);
    const float wpy = pw[oy + y], wqy = pw[oy + ny + y];
    const float wpx = pw[ox + x], wqx = pw[ox + nx + x];
    const i64 base = (i64)b * csc;
    float y1[2];
#pragma unroll
    for (int ix = 0; ix < 2; ++ix) {
        float y0[2];
#pragma unroll
        for (int iy = 0; iy < 2; ++iy) {
            float v;
            if (three_d) {
                float e[2];
#pragma unroll
                for (int iz = 0; iz < 2; ++iz) {
                    const int Z = jz[iz], Y = jy[iy], X = jx[ix];
                    const i64 o = base + slot(C, Z, Y, X);
                    const float ev = ((X + Y + Z) & 1) ? e1[o] : e0[o];
                    e[iz] = gz[iz] ? -ev : ev;
                }
                const float p = e[0] * wpz;
                const float q = e[1] * wqz;
                v = p + q;
            } else {
                const int Y = jy[iy], X = jx[ix];
                const i64 o = base + slot(C, 0, Y, X);
                v = ((X + Y) & 1) ? e1[o] : e0[o];
            }
            y0[iy] = gy[iy] ? -v : v;
        }
        const float p = y0[0] * wpy;
        const float q = y0[1] * wqy;
        const float u = p + q;
        y1[ix] = gx[ix] ? -u : u;
    }
    const float p = y1[0] * wpx;
    const float q = y1[1] * wqx;
    const float P = p + q;
    const Lev L = {nz, ny, nx, hx, three_d, bnd, 1, 1.0f, 0, 0};
    const i64 o = (i64)b * cs + slot(L, z, y, x);
    float* cp = ((x + y + z) & 1) ? c1 : c0;
    cp[o] = cp[o] + P;
}
#else  // LATTICE_HOST: thread 0 of the first block of each fine row does the whole row: the z and y
       // interpolation once per coarse column into a padded row (ghost columns by resolve_padded),
       // then the x interpolation per fine voxel. Same operations and order as the device body.
extern "C" __global__ void mg_prolong(int nz, int ny, int nx, int hx, i64 cs, int three_d, int bnd, int nch, int mz,
                                      int my, int mx, int hxc, i64 csc, const int* __restrict__ pt,
                                      const float* __restrict__ pw, const float* __restrict__ e0,
                                      const float* __restrict__ e1, float* c0, float* c1) {
    if (threadIdx.x != 0) return;
    const int row = blockIdx.x / nch;
    if ((int)blockIdx.x != row * nch) return;  // the row's first block does the whole fine row
    const int b = blockIdx.y;
    const int z = row / ny, y = row - z * ny;
    const int oz = 0, oy = 2 * nz, ox = 2 * nz + 2 * ny;
    int jz[2] = {0, 0}, jy[2];
    bool gz[2] = {false, false}, gy[2];
    float wpz = 1.0f, wqz = 0.0f;
    if (three_d) {
        jz[0] = resolve_padded(pt[oz + z], mz, bnd, &gz[0]);
        jz[1] = resolve_padded(pt[oz + nz + z], mz, bnd, &gz[1]);
        wpz = pw[oz + z];
        wqz = pw[oz + nz + z];
    }
    jy[0] = resolve_padded(pt[oy + y], my, bnd, &gy[0]);
    jy[1] = resolve_padded(pt[oy + ny + y], my, bnd, &gy[1]);
    const float wpy = pw[oy + y], wqy = pw[oy + ny + y];
    const i64 base = (i64)b * csc;
    thread_local std::vector<float> buf;
    if (buf.size() < (size_t)mx + 2) buf.resize((size_t)mx + 2);
    float* __restrict__ R = buf.data();  // R[X + 1]: the z- and y-interpolated coarse column X
    // The coarse rows (jz[iz], jy[iy]) split by the parity of X: even X are one colour's slots
    // X/2 of the row, odd X the other colour's (colour = (X + Y + Z) & 1).
    const float* ev[2][2];
    const float* od[2][2];
    for (int iz = 0; iz < 2; ++iz)
        for (int iy = 0; iy < 2; ++iy) {
            const int Z = jz[iz], Y = jy[iy];
            const i64 o = base + ((i64)Z * my + Y) * hxc;
            ev[iz][iy] = (((Y + Z) & 1) ? e1 : e0) + o;
            od[iz][iy] = (((Y + Z) & 1) ? e0 : e1) + o;
        }
    for (int par = 0; par < 2; ++par) {
        const float* const(*rows)[2] = par ? od : ev;
        const float* __restrict__ r00 = rows[0][0];
        const float* __restrict__ r01 = rows[0][1];
        const float* __restrict__ r10 = rows[1][0];
        const float* __restrict__ r11 = rows[1][1];
        const int n = par ? mx / 2 : (mx + 1) / 2;
        float* __restrict__ out = R + 1 + par;  // R[X + 1], X = 2j + par
        if (three_d) {
            for (int j = 0; j < n; ++j) {
                float y0[2];
                {
                    const float a = gz[0] ? -r00[j] : r00[j];
                    const float c = gz[1] ? -r10[j] : r10[j];
                    const float p = a * wpz;
                    const float q = c * wqz;
                    const float v = p + q;
                    y0[0] = gy[0] ? -v : v;
                }
                {
                    const float a = gz[0] ? -r01[j] : r01[j];
                    const float c = gz[1] ? -r11[j] : r11[j];
                    const float p = a * wpz;
                    const float q = c * wqz;
                    const float v = p + q;
                    y0[1] = gy[1] ? -v : v;
                }
                const float p = y0[0] * wpy;
                const float q = y0[1] * wqy;
                out[2 * j] = p + q;
            }
        } else {
            for (int j = 0; j < n; ++j) {
                const float a = gy[0] ? -r00[j] : r00[j];
                const float c = gy[1] ? -r01[j] : r01[j];
                const float p = a * wpy;
                const float q = c * wqy;
                out[2 * j] = p + q;
            }
        }
    }
    bool ng;
    int j = resolve_padded(0, mx, bnd, &ng);
    R[0] = ng ? -R[j + 1] : R[j + 1];
    j = resolve_padded(mx + 1, mx, bnd, &ng);
    R[mx + 1] = ng ? -R[j + 1] : R[j + 1];
    // x: parent p = x/2 + 1 and neighbour q = p − 1 (even x) or p + 1 (odd x) in the padded row
    // (the layout of the prolongation tables, checked by kernels/multigrid.py host_tables).
    const float* __restrict__ wpx = pw + ox;
    const float* __restrict__ wqx = pw + ox + nx;
    const i64 rb = (i64)b * cs + (i64)row * hx;
    float* __restrict__ ce = (((y + z) & 1) ? c1 : c0) + rb;  // voxels of even x
    float* __restrict__ co = (((y + z) & 1) ? c0 : c1) + rb;  // voxels of odd x
    for (int m = 0; m < hx; ++m) {
        const float p = R[m + 1] * wpx[2 * m];
        const float q = R[m] * wqx[2 * m];
        ce[m] = ce[m] + (p + q);
    }
    for (int m = 0; m < nx / 2; ++m) {
        const float p = R[m + 1] * wpx[2 * m + 1];
        const float q = R[m + 2] * wqx[2 * m + 1];
        co[m] = co[m] + (p + q);
    }
}
LATTICE_HOST_BLOCK_KERNEL(mg_prolong, 1L << 19)  // threads ≥ fine voxels, ~1 ns each
#endif

#ifndef LATTICE_HOST
// Coarsest level, one block of 64 threads per field: y = LU⁻¹ rhs in float64 (forward then
// backward substitution, the NumPy loops' order). mode 0: rhs = f, c = float32(y);
// mode 1 (the finest level is the coarsest): rhs = residual, c = c + float32(y).
extern "C" __global__ void __launch_bounds__(64)
    mg_coarse_solve(LEVEL_PARAMS, i64 cs, int mode, int inhom, const double* __restrict__ LU,
                    const float* __restrict__ f, const float* __restrict__ a0,
                    const float* __restrict__ alpha32, const float* __restrict__ two_g, float* c0,
                    float* c1) {
    __shared__ double A[MG_MAXN * MG_MAXN];
    __shared__ double yv[MG_MAXN];
    const int n = nz * ny * nx;
    const int b = blockIdx.x;
    const int i = threadIdx.x;
    const Lev L = LEVEL_INIT;
    for (int t = i; t < n * n; t += blockDim.x) A[t] = LU[(i64)b * n * n + t];
    int x = 0, y = 0, z = 0;
    if (i < n) {
        x = i % nx;
        y = (i / nx) % ny;
        z = i / (nx * ny);
        if (mode == 0) {
            yv[i] = (double)f[split_index(L, cs, b, z, y, x)];
        } else {
            const float al = alpha32[b];
            const Ctx k = {L, cs, b, uniform ? al * scale : al, two_g[b], inhom, c0, c1, f, a0};
            float c, a;
            yv[i] = (double)residual_at(k, z, y, x, &c, &a);
        }
    }
    __syncthreads();
    for (int k = 0; k < n - 1; ++k) {
        if (i > k && i < n) {
            const double p = A[i * n + k] * yv[k];
            yv[i] = yv[i] - p;
        }
        __syncthreads();
    }
    for (int k = n - 1; k >= 0; --k) {
        if (i == k) yv[k] = yv[k] / A[k * n + k];
        __syncthreads();
        if (i < k) {
            const double p = A[i * n + k] * yv[k];
            yv[i] = yv[i] - p;
        }
        __syncthreads();
    }
    if (i < n) {
        const float s = (float)yv[i];
        const i64 o = (i64)b * cs + slot(L, z, y, x);
        float* cp = ((x + y + z) & 1) ? c1 : c0;
        cp[o] = mode == 0 ? s : cp[o] + s;
    }
}

#else  // LATTICE_HOST: thread 0 of the block solves the field's system serially, same order.
extern "C" __global__ void mg_coarse_solve(LEVEL_PARAMS, i64 cs, int mode, int inhom, const double* __restrict__ LU,
                                           const float* __restrict__ f, const float* __restrict__ a0,
                                           const float* __restrict__ alpha32, const float* __restrict__ two_g,
                                           float* c0, float* c1) {
    if (threadIdx.x != 0) return;
    const int n = nz * ny * nx;
    const int b = blockIdx.x;
    const Lev L = LEVEL_INIT;
    const double* A = LU + (i64)b * n * n;
    double yv[MG_MAXN];
    for (int i = 0; i < n; ++i) {  // every right-hand side before any write (the device's barrier)
        const int x = i % nx, y = (i / nx) % ny, z = i / (nx * ny);
        if (mode == 0) {
            yv[i] = (double)f[split_index(L, cs, b, z, y, x)];
        } else {
            const float al = alpha32[b];
            const Ctx k = {L, cs, b, uniform ? al * scale : al, two_g[b], inhom, c0, c1, f, a0};
            float c, a;
            yv[i] = (double)residual_at(k, z, y, x, &c, &a);
        }
    }
    for (int k = 0; k < n - 1; ++k)
        for (int i = k + 1; i < n; ++i) {
            const double p = A[i * n + k] * yv[k];
            yv[i] = yv[i] - p;
        }
    for (int k = n - 1; k >= 0; --k) {
        yv[k] = yv[k] / A[k * n + k];
        for (int i = 0; i < k; ++i) {
            const double p = A[i * n + k] * yv[k];
            yv[i] = yv[i] - p;
        }
    }
    for (int i = 0; i < n; ++i) {
        const int x = i % nx, y = (i / nx) % ny, z = i / (nx * ny);
        const float s = (float)yv[i];
        const i64 o = (i64)b * cs + slot(L, z, y, x);
        float* cp = ((x + y + z) & 1) ? c1 : c0;
        cp[o] = mode == 0 ? s : cp[o] + s;
    }
}
LATTICE_HOST_BLOCK_KERNEL(mg_coarse_solve, LATTICE_PARALLEL_MIN)
#endif

#ifndef LATTICE_HOST
// Finest level back to the natural (B, nz, ny, nx) layout.
extern "C" __global__ void __launch_bounds__(256)
    mg_output(int nz, int ny, int nx, int hx, i64 cs, int nch, const float* __restrict__ c0,
              const float* __restrict__ c1, float* __restrict__ out) {
    const int row = blockIdx.x / nch;
    const int x = (blockIdx.x - row * nch) * blockDim.x + threadIdx.x;
    if (x >= nx) return;
    const int b = blockIdx.y;
    const int z = row / ny, y = row - z * ny;
    const i64 o = (i64)b * cs + ((i64)z * ny + y) * hx + (x >> 1);
    out[(((i64)b * nz + z) * ny + y) * nx + x] = ((x + y + z) & 1) ? c1[o] : c0[o];
}
#else  // LATTICE_HOST: thread 0 does the block's voxels of its row in one loop.
extern "C" __global__ void mg_output(int nz, int ny, int nx, int hx, i64 cs, int nch, const float* __restrict__ c0,
                                     const float* __restrict__ c1, float* __restrict__ out) {
    const int row = blockIdx.x / nch;
    const int x0 = (blockIdx.x - row * nch) * blockDim.x;
    const int x1 = min(x0 + (int)blockDim.x, nx);
    const int b = blockIdx.y;
    const int z = row / ny, y = row - z * ny;
    const i64 o = (i64)b * cs + ((i64)z * ny + y) * hx;
    float* __restrict__ orow = out + (((i64)b * nz + z) * ny + y) * nx;
    const float* __restrict__ ce = (((y + z) & 1) ? c1 : c0) + o;  // voxels of even x
    const float* __restrict__ co = (((y + z) & 1) ? c0 : c1) + o;
    for (int x = x0; x < x1; ++x) orow[x] = (x & 1) ? co[x >> 1] : ce[x >> 1];
}
LATTICE_HOST_BLOCK_KERNEL(mg_output, 1L << 19)
#endif
