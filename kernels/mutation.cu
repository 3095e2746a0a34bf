// Mutation to R at division: the CUDA twin of lattice/processes/mutation.py `update`.
// One thread per voxel over R × nvox.
#include "rules.cuh"

// A renewed (just divided or just born) cell becomes R with probability p_raised in D/E, p_base in
// S/P, never otherwise (stream MUTATION); a mutated cell restarts its time-in-state timer. p_base,
// p_raised: the plan's scalars (lattice/processes/mutation.py), by value.
extern "C" __global__ void mutation_update(const uint8_t* cells, const float* timer, const bool* renewed,
                                           float p_base, float p_raised, uint32_t seed, uint32_t step, int R,
                                           long nvox, uint8_t* cells_out, float* timer_out) {
    const long v = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (v >= (long)R * nvox) return;
    const long r = v / nvox, i = v % nvox;
    const uint8_t c = cells[v];
    const bool persister = c == C_DTP || c == C_DTEP;
    const bool sensitive = c == C_SENSITIVE || c == C_PRIMED;
    const float p = persister ? p_raised : (sensitive ? p_base : 0.0f);
    const float u = uniform0(seed, (uint32_t)r, (uint32_t)i, step, STREAM_MUTATION, 0);
    const bool mutate = renewed[v] && (u < p);
    cells_out[v] = mutate ? (uint8_t)C_RESISTANT : c;
    timer_out[v] = mutate ? 0.0f : timer[v];
}

// Evolving barcode at division: the twin of lattice/processes/lineage.py `mutate_evolving`. A
// renewed live tumour cell draws (stream BARCODE, draw 1) u0 < p: it takes the fresh id
// (bits of u1 << 8) | (bits of u2 >> 16), bits = u × 2^24 exactly.
extern "C" __global__ void evolving_update(const uint8_t* cells, const uint32_t* evolving, const bool* renewed,
                                           float p, uint32_t seed, uint32_t step, int R, long nvox,
                                           uint32_t* evolving_out) {
    const long v = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (v >= (long)R * nvox) return;
    const long r = v / nvox, i = v % nvox;
    float u[4];
    philox_uniforms(seed, (uint32_t)r, (uint32_t)i, step, STREAM_BARCODE, 1, u);
    const bool mutate = renewed[v] && is_live_tumour(cells[v]) && (u[0] < p);
    const uint32_t hi = (uint32_t)(u[1] * 16777216.0f), lo = (uint32_t)(u[2] * 16777216.0f);
    evolving_out[v] = mutate ? ((hi << 8) | (lo >> 16)) : evolving[v];
}
