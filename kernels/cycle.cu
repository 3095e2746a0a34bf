// Cell-cycle clocks, timers and division intents: the CUDA twin of
// lattice/processes/cycle.py `update`. One thread per voxel over R × nvox.
#include "rules.cuh"

// speed = step_h/cycle_h × clip((pO2 − lo)/span, 0, 1) × speed_table[code] [× (1 − cytostasis)]
__device__ __forceinline__ float cycle_speed(float o2, uint8_t c, const float* speed_table, bool has_cyto,
                                             float cyto, float step_over_cycle, float o2_lo, float o2_span) {
    const float factor = np_clip((o2 - o2_lo) / o2_span, 0.0f, 1.0f);
    float speed = step_over_cycle * factor;
    speed = speed * speed_table[c];
    if (has_cyto) speed = speed * (1.0f - cyto);
    return speed;
}

// flags: the plan's CY_* bits (CY_HAZARD_DIVISION: tumour.division == "hazard"; CY_CYTOSTASIS:
// the drug effects have a cytostasis array); sc: the plan's scalars, sc[CY_<NAME>]
// (lattice/processes/cycle.py, generated into constants.cuh).
extern "C" __global__ void cycle_update(const uint8_t* cells, const float* clock, const float* timer,
                                        const float* fields, int n_fields, int ch_o2, const float* speed_table,
                                        const float* cytostasis, int flags, const float* sc,
                                        uint32_t seed, uint32_t step, int R, long nvox,
                                        float* clock_out, float* timer_out, bool* intents) {
    const long v = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (v >= (long)R * nvox) return;
    const long r = v / nvox, i = v % nvox;
    const uint8_t c = cells[v];
    const bool live = is_live_tumour(c);
    const bool has_cyto = (flags & CY_CYTOSTASIS) != 0;
    const float cyto = has_cyto ? cytostasis[v] : 0.0f;
    const float speed = cycle_speed(field_at(fields, n_fields, ch_o2, r, i, nvox), c, speed_table, has_cyto,
                                    cyto, sc[CY_STEP_OVER_CYCLE], sc[CY_O2_LO], sc[CY_O2_SPAN]);
    const float clk0 = clock[v];
    const float clk = live ? np_minimum(clk0 + speed, 1.0f) : clk0;
    bool intent;
    if (flags & CY_HAZARD_DIVISION) {
        const float u = uniform0(seed, (uint32_t)r, (uint32_t)i, step, STREAM_CYCLE, 0);
        intent = live && (u < pm_one_minus_exp_neg(speed));
    } else {
        intent = live && (clk >= 1.0f);
        if (has_cyto) {
            // Held at the checkpoint (clock already 1 at the start of the step) with p = cytostasis.
            const float u = uniform0(seed, (uint32_t)r, (uint32_t)i, step, STREAM_CYCLE, 0);
            intent = intent && !((clk0 >= 1.0f) && (u < cyto));
        }
    }
    clock_out[v] = clk;
    timer_out[v] = c != C_EMPTY ? timer[v] + sc[CY_STEP_H] : 0.0f;
    intents[v] = intent;
}
