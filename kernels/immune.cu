// The immune layer's decisions: the CUDA twin of lattice/processes/immune.py (kill, turnover, move).
// Lattice (R, nz, ny, nx) in C order (2D runs have nz = 1); one thread per voxel.
// Offsets (dz, dy, dx) in Grid.offsets order, n_dirs of them; contact direction 0 is the voxel
// itself and contact direction k >= 1 is offsets[k - 1].
// Float inputs (probabilities, weights) come from the shared xp code; here they are only selected,
// compared, summed in a fixed order or multiplied once. Loaded with IEEE options (no contraction,
// no flush-to-zero: kernels/_loader.ieee_module) so a subnormal probability compares as in NumPy.
#include "stdint.cuh"
#include "philox.cuh"
#include "lattice.cuh"

#include "constants.cuh"  // codes, streams, IMMUNE_* flags, NO_KEY (generated from Python)


// Contact direction k (0: the voxel itself; k >= 1: offsets[k - 1]) from v, sign +1 or -1.
__device__ __forceinline__ bool contact(const Dims d, long v, const int* offsets, int k, int sign, long* out) {
    if (k == 0) { *out = v; return true; }
    const int* o = offsets + 3 * (k - 1);
    return neighbour(d, v, sign * o[0], sign * o[1], sign * o[2], out);
}

// Kill step 1: each effector T cell picks one live tumour cell in contact (u0 × n) and succeeds
// when u1 < potency[v] × p_target[w]; successful ones get direction and key u2, others -1.
extern "C" __global__ void kill_choose(const uint8_t* cells, const uint8_t* immune, const float* p_target,
                                       const float* potency, const int* offsets, int n_dirs, int R, int nz, int ny,
                                       int nx, uint32_t seed, uint32_t step, int* target, float* key) {
    const Dims d{R, nz, ny, nx};
    const long nvox = (long)d.nz * d.ny * d.nx;
    const long v = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (v >= d.R * nvox) return;
    target[v] = -1;
    key[v] = NO_KEY;
    if (immune[v] != IM_T_CELL) return;
    int n = 0;
    for (int k = 0; k <= n_dirs; ++k) {
        long w;
        if (contact(d, v, offsets, k, 1, &w) && is_live_tumour(cells[w])) ++n;
    }
    if (n == 0) return;
    float u[4];
    philox_uniforms(seed, (uint32_t)(v / nvox), (uint32_t)(v % nvox), step, STREAM_IMMUNE, 0, u);
    int choice = (int)(u[0] * (float)n);
    if (choice > n - 1) choice = n - 1;
    int seen = 0;
    for (int k = 0; k <= n_dirs; ++k) {
        long w;
        if (contact(d, v, offsets, k, 1, &w) && is_live_tumour(cells[w])) {
            if (seen == choice) {
                const float p = potency[v] * p_target[w];
                if (u[1] < p) { target[v] = k; key[v] = u[2]; }
                return;
            }
            ++seen;
        }
    }
}

// Kill step 2: each voxel takes the successful proposer with the smallest key (ties: lower k).
extern "C" __global__ void kill_resolve(const int* target, const float* key, const int* offsets, int n_dirs,
                                        int R, int nz, int ny, int nx, int* killer) {
    const Dims d{R, nz, ny, nx};
    const long nvox = (long)d.nz * d.ny * d.nx;
    const long v = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (v >= d.R * nvox) return;
    int best_k = -1;
    float best = NO_KEY;
    for (int k = 0; k <= n_dirs; ++k) {
        long m;  // the T cell sits at v - contact offset k
        if (!contact(d, v, offsets, k, -1, &m)) continue;
        if (target[m] == k && key[m] < best) { best = key[m]; best_k = k; }
    }
    killer[v] = best_k;
}

// Kill step 3: victims become apoptotic (clock 0, timer step_h); winners count a kill.
extern "C" __global__ void kill_apply(const uint8_t* cells, const float* clock, const float* timer,
                                      const uint8_t* kills, const int* target, const int* killer,
                                      const int* offsets, int n_dirs, int R, int nz, int ny, int nx, float step_h,
                                      uint8_t* cells_out, float* clock_out, float* timer_out, uint8_t* kills_out,
                                      bool* killed, bool* won) {
    const Dims d{R, nz, ny, nx};
    const long nvox = (long)d.nz * d.ny * d.nx;
    const long v = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (v >= d.R * nvox) return;
    uint8_t c = cells[v];
    float clk = clock[v], tim = timer[v];
    const bool dies = killer[v] >= 0;
    if (dies) { c = C_DEAD; clk = 0.0f; tim = step_h; }
    bool w_ok = false;
    uint8_t k = kills[v];
    const int t = target[v];
    if (t >= 0) {
        long w;
        if (contact(d, v, offsets, t, 1, &w) && killer[w] == t) {
            w_ok = true;
            if (k < 255) k = (uint8_t)(k + 1);
        }
    }
    cells_out[v] = c; clock_out[v] = clk; timer_out[v] = tim; kills_out[v] = k;
    killed[v] = dies; won[v] = w_ok;
}

// Death (u0 < p_death; by macrophages if u0 < q_macrophage) and recruitment at free vessels
// (u1 < p_recruit), one thread per voxel; stream IMMUNE, draw 1.
extern "C" __global__ void turnover(const uint8_t* cells, const uint8_t* immune, const uint8_t* kills,
                                    const float* p_death, const float* q_macrophage, const float* p_recruit,
                                    int R, long nvox, uint32_t seed, uint32_t step,
                                    uint8_t* immune_out, uint8_t* kills_out, uint8_t* flags) {
    const long v = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (v >= R * nvox) return;
    float u[4];
    philox_uniforms(seed, (uint32_t)(v / nvox), (uint32_t)(v % nvox), step, STREAM_IMMUNE, 1, u);
    uint8_t im = immune[v], k = kills[v], f = 0;
    if (im == IM_T_CELL || im == IM_EXHAUSTED_T_CELL) {
        if (u[0] < p_death[v]) {
            f |= IMMUNE_DIED;
            if (u[0] < q_macrophage[v]) f |= IMMUNE_BY_MACROPHAGE;
            im = IM_NONE; k = 0;
        }
    } else if (im == IM_NONE && cells[v] == C_VESSEL && u[1] < p_recruit[v]) {
        im = IM_T_CELL; k = 0; f |= IMMUNE_RECRUITED;
    }
    immune_out[v] = im; kills_out[v] = k; flags[v] = f;
}

// Move step 1: each mobile T cell proposes a free neighbour by the cumulative weights
// (u0 × total), with key u1; weights is (n_dirs, N).
extern "C" __global__ void move_choose(const uint8_t* immune, const bool* arrested, const float* weights,
                                       const int* offsets, int n_dirs, int R, int nz, int ny, int nx, uint32_t seed,
                                       uint32_t step, uint32_t draw, int* target, float* key) {
    const Dims d{R, nz, ny, nx};
    const long nvox = (long)d.nz * d.ny * d.nx;
    const long N = d.R * nvox;
    const long v = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (v >= N) return;
    float u[4];
    philox_uniforms(seed, (uint32_t)(v / nvox), (uint32_t)(v % nvox), step, STREAM_IMMUNE_MOVE, draw, u);
    key[v] = u[1];
    target[v] = -1;
    const uint8_t im = immune[v];
    if (!((im == IM_T_CELL || im == IM_EXHAUSTED_T_CELL) && !arrested[v])) return;
    float total = 0.0f;
    for (int k = 0; k < n_dirs; ++k) {
        long w;
        if (neighbour(d, v, offsets[3 * k], offsets[3 * k + 1], offsets[3 * k + 2], &w) && immune[w] == IM_NONE)
            total = total + weights[k * N + v];
    }
    const float threshold = u[0] * total;
    float cum = 0.0f;
    int chosen = -1, last = -1;
    for (int k = 0; k < n_dirs; ++k) {
        long w;
        if (neighbour(d, v, offsets[3 * k], offsets[3 * k + 1], offsets[3 * k + 2], &w) && immune[w] == IM_NONE) {
            cum = cum + weights[k * N + v];
            last = k;
            if (chosen < 0 && cum > threshold) chosen = k;
        }
    }
    target[v] = chosen < 0 ? last : chosen;
}

// Move step 2: each free voxel accepts the proposer with the smallest key (ties: lower direction).
extern "C" __global__ void move_accept(const uint8_t* immune, const int* target, const float* key, const int* offsets,
                                       int n_dirs, int R, int nz, int ny, int nx, int* winner) {
    const Dims d{R, nz, ny, nx};
    const long nvox = (long)d.nz * d.ny * d.nx;
    const long v = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (v >= d.R * nvox) return;
    int best_dir = -1;
    float best = NO_KEY;
    if (immune[v] == IM_NONE) {
        for (int k = 0; k < n_dirs; ++k) {
            long m;  // the mover sits at v - offset[k]
            if (!neighbour(d, v, -offsets[3 * k], -offsets[3 * k + 1], -offsets[3 * k + 2], &m)) continue;
            if (target[m] == k && key[m] < best) { best = key[m]; best_dir = k; }
        }
    }
    winner[v] = best_dir;
}

// Move step 3: arrivals take the mover's code and kill count; movers leave their voxel.
extern "C" __global__ void move_apply(const uint8_t* immune, const uint8_t* kills, const int* target, const int* winner,
                                      const int* offsets, int n_dirs, int R, int nz, int ny, int nx,
                                      uint8_t* immune_out, uint8_t* kills_out) {
    const Dims d{R, nz, ny, nx};
    const long nvox = (long)d.nz * d.ny * d.nx;
    const long v = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (v >= d.R * nvox) return;
    uint8_t im = immune[v], k = kills[v];
    const int w = winner[v];
    if (w >= 0) {
        long m;
        neighbour(d, v, -offsets[3 * w], -offsets[3 * w + 1], -offsets[3 * w + 2], &m);
        im = immune[m]; k = kills[m];
    }
    const int t = target[v];
    if (t >= 0) {
        long q;
        if (neighbour(d, v, offsets[3 * t], offsets[3 * t + 1], offsets[3 * t + 2], &q) && winner[q] == t) {
            im = IM_NONE; k = 0;
        }
    }
    immune_out[v] = im; kills_out[v] = k;
}
