// Clearance, necrosis and background apoptosis: the CUDA twin of lattice/processes/death.py
// `update`. One thread per voxel over R × nvox.
#include "rules.cuh"

// necrosis_probability: ramp_mode (threshold − max > 0) ramps linearly with pO2, otherwise a step
// at the threshold; starving cells (glucose below threshold) get p_max.
__device__ __forceinline__ float necrosis_probability(float o2, float glucose, float p_max, int ramp_mode,
                                                      float o2_threshold, float o2_span, float glucose_threshold) {
    float ramp;
    if (ramp_mode) ramp = np_clip((o2_threshold - o2) / o2_span, 0.0f, 1.0f);
    else ramp = o2 < o2_threshold ? 1.0f : 0.0f;
    const bool starving = glucose < glucose_threshold;
    return starving ? p_max : p_max * ramp;
}

// flags: the plan's DE_* bits; sc: the plan's scalars, sc[DE_<NAME>] (lattice/processes/death.py,
// generated into constants.cuh).
extern "C" __global__ void death_update(const uint8_t* cells, const float* clock, const float* memory,
                                        const float* timer, const float* fields, int n_fields, int ch_o2,
                                        int ch_glucose, int flags, const float* sc, uint32_t seed, uint32_t step,
                                        int R, long nvox, uint8_t* cells_out, float* clock_out,
                                        float* memory_out, float* timer_out) {
    const long v = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (v >= (long)R * nvox) return;
    const long r = v / nvox, i = v % nvox;
    const uint8_t c = cells[v];
    const float tim = timer[v];
    const bool cleared = (c == C_DEAD) && (tim >= sc[DE_DEAD_CLEARANCE_H]);
    const bool live = is_live_tumour(c);

    const float u_necrosis = uniform0(seed, (uint32_t)r, (uint32_t)i, step, STREAM_NECROSIS, 0);
    const float p_necrosis = necrosis_probability(field_at(fields, n_fields, ch_o2, r, i, nvox),
                                                  field_at(fields, n_fields, ch_glucose, r, i, nvox),
                                                  sc[DE_P_NECROSIS_MAX], (flags & DE_NECROSIS_RAMP) != 0,
                                                  sc[DE_O2_THRESHOLD], sc[DE_O2_SPAN], sc[DE_GLUCOSE_THRESHOLD]);
    const bool necrotic = live && (u_necrosis < p_necrosis);
    bool apoptotic = false;
    if (flags & DE_APOPTOSIS) {
        const float u_apoptosis = uniform0(seed, (uint32_t)r, (uint32_t)i, step, STREAM_APOPTOSIS, 0);
        apoptotic = live && !necrotic && (u_apoptosis < sc[DE_P_APOPTOSIS]);
    }
    const bool died = necrotic || apoptotic;
    uint8_t out = c;
    if (necrotic) out = C_NECROTIC;
    if (apoptotic) out = C_DEAD;
    if (cleared) out = C_EMPTY;
    const bool reset = died || cleared;
    cells_out[v] = out;
    clock_out[v] = reset ? 0.0f : clock[v];
    memory_out[v] = cleared ? 0.0f : memory[v];
    timer_out[v] = reset ? 0.0f : tim;
}
