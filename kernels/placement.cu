// Pull placement of daughters: the CUDA twin of lattice/processes/placement.py.
// Lattice (R, nz, ny, nx) in C order (2D runs have nz = 1); one thread per voxel.
// Offsets (dz, dy, dx) in Grid.offsets order, n_dirs of them.
#include "stdint.cuh"
#include "philox.cuh"
#include "lattice.cuh"
#include "constants.cuh"  // is_free_space, STREAM_PLACEMENT, NO_KEY (generated from Python)

// Step 1: each dividing cell picks a free neighbour uniformly (u0 × n_free) and a key u1.
extern "C" __global__ void choose_targets(const uint8_t* cells, const bool* intents, const int* offsets,
                                          int n_dirs, int R, int nz, int ny, int nx, uint32_t seed, uint32_t step,
                                          int* target, float* key) {
    const Dims d{R, nz, ny, nx};
    const long nvox = (long)d.nz * d.ny * d.nx;
    const long v = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (v >= d.R * nvox) return;
    target[v] = -1;
    float u[4];
    philox_uniforms(seed, (uint32_t)(v / nvox), (uint32_t)(v % nvox), step, STREAM_PLACEMENT, 0, u);
    key[v] = u[1];
    if (!intents[v]) return;
    int n_free = 0;
    for (int k = 0; k < n_dirs; ++k) {
        long w;
        if (neighbour(d, v, offsets[3 * k], offsets[3 * k + 1], offsets[3 * k + 2], &w) && is_free_space(cells[w])) ++n_free;
    }
    if (n_free == 0) return;
    int choice = (int)(u[0] * (float)n_free);
    if (choice > n_free - 1) choice = n_free - 1;
    int seen = 0;
    for (int k = 0; k < n_dirs; ++k) {
        long w;
        if (neighbour(d, v, offsets[3 * k], offsets[3 * k + 1], offsets[3 * k + 2], &w) && is_free_space(cells[w])) {
            if (seen == choice) { target[v] = k; return; }
            ++seen;
        }
    }
}

// Step 2: each free voxel accepts the proposer with the smallest key (ties: lower direction).
extern "C" __global__ void accept(const uint8_t* cells, const int* target, const float* key,
                                  const int* offsets, int n_dirs, int R, int nz, int ny, int nx, int* winner) {
    const Dims d{R, nz, ny, nx};
    const long nvox = (long)d.nz * d.ny * d.nx;
    const long v = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (v >= d.R * nvox) return;
    int best_dir = -1;
    float best_key = NO_KEY;
    if (is_free_space(cells[v])) {
        for (int k = 0; k < n_dirs; ++k) {
            long m;  // the mother sits at v − offset[k]
            if (!neighbour(d, v, -offsets[3 * k], -offsets[3 * k + 1], -offsets[3 * k + 2], &m)) continue;
            if (target[m] == k && key[m] < best_key) { best_key = key[m]; best_dir = k; }
        }
    }
    winner[v] = best_dir;
}

// Step 3: write daughters (inherit state and memory; clock and timer 0) and reset mothers' clocks.
extern "C" __global__ void apply(const uint8_t* cells, const float* clock, const float* memory,
                                 const float* timer, const int* target, const int* winner,
                                 const int* offsets, int n_dirs, int R, int nz, int ny, int nx, uint8_t* cells_out,
                                 float* clock_out, float* memory_out, float* timer_out, bool* renewed) {
    const Dims d{R, nz, ny, nx};
    const long nvox = (long)d.nz * d.ny * d.nx;
    const long v = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (v >= d.R * nvox) return;
    uint8_t c = cells[v];
    float clk = clock[v], mem = memory[v], tim = timer[v];
    bool born = false, divided = false;
    const int w = winner[v];
    if (w >= 0) {
        long m;
        neighbour(d, v, -offsets[3 * w], -offsets[3 * w + 1], -offsets[3 * w + 2], &m);
        c = cells[m]; mem = memory[m]; clk = 0.0f; tim = 0.0f; born = true;
    }
    const int t = target[v];
    if (t >= 0) {
        long q;
        if (neighbour(d, v, offsets[3 * t], offsets[3 * t + 1], offsets[3 * t + 2], &q) && winner[q] == t) {
            divided = true; clk = 0.0f;
        }
    }
    cells_out[v] = c; clock_out[v] = clk; memory_out[v] = mem; timer_out[v] = tim;
    renewed[v] = born || divided;
}

// Step 3 for the lineage arrays (State.barcode, evolving; launched per array only when the run has
// it): a voxel that accepted a daughter takes the mother's id, every other voxel keeps its own.
extern "C" __global__ void inherit(const uint32_t* ids, const int* winner, const int* offsets, int n_dirs,
                                   int R, int nz, int ny, int nx, uint32_t* ids_out) {
    const Dims d{R, nz, ny, nx};
    const long nvox = (long)d.nz * d.ny * d.nx;
    const long v = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (v >= d.R * nvox) return;
    uint32_t id = ids[v];
    const int w = winner[v];
    long m;
    if (w >= 0 && neighbour(d, v, -offsets[3 * w], -offsets[3 * w + 1], -offsets[3 * w + 2], &m)) id = ids[m];
    ids_out[v] = id;
}
