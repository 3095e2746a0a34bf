// The DTP life cycle: the CUDA twins of lattice/processes/transitions.py `update` (competing
// fates of every live tumour cell, one FATE uniform partitioned over the active rules, and the
// memory update) and `initial_phenotypes`. One thread per voxel over R × nvox.
#include "rules.cuh"

// flags: the plan's flag word, bits TR_<RULE> (rules, in partition order) and TR_<FACTOR>;
// sc: the plan's float32 scalars, sc[TR_<NAME>] (lattice/processes/transitions.py, generated
// into constants.cuh).

// _ramp_below: 0 at x ≥ start rising to 1 at x ≤ full (span = start − full), or a step at start.
__device__ __forceinline__ float ramp_below(float x, bool ramp, float start, float span) {
    if (ramp) return np_clip((start - x) / span, 0.0f, 1.0f);
    return x < start ? 1.0f : 0.0f;
}

extern "C" __global__ void transitions_update(
    const uint8_t* cells, const float* clock, const float* memory, const float* timer,
    const float* fields, int n_fields, int ch_o2, int ch_glucose, int ch_death_signal,
    const float* stress, const float* kill, const float* met_signal, const float* entry_block, int flags,
    const float* sc, uint32_t seed, uint32_t step, int R, long nvox,
    uint8_t* cells_out, float* clock_out, float* memory_out, float* timer_out) {
    const long v = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (v >= (long)R * nvox) return;
    const long r = v / nvox, i = v % nvox;
    const uint8_t c = cells[v];
    const float m = memory[v], clk = clock[v], tim = timer[v];
    const bool live = is_live_tumour(c);
    const bool has_stress = (flags & TR_STRESS) != 0;
    const float s = has_stress ? stress[v] : 0.0f;

    // update_memory
    const float one = 1.0f;
    float mem;
    if (!has_stress) {
        mem = live ? m - m * sc[TR_MEMORY_LOSE] : m;
    } else {
        const bool persister = (c == C_DTP) || (c == C_DTEP);
        const float gain = persister ? ((one - m) * sc[TR_MEMORY_GAIN]) * s : 0.0f;
        const float next = (m + gain) - (m * sc[TR_MEMORY_LOSE]) * (one - s);
        mem = live ? np_clip(next, 0.0f, 1.0f) : m;
    }

    // hazards(): (hazard 1/h, target code) in partition order.
    float k[TR_N_RULES];
    uint8_t target[TR_N_RULES];
    int n = 0;
    if (flags & TR_DRUG_DEATH) {
        k[n] = (live ? 1.0f : 0.0f) * kill[v];
        target[n++] = C_DEAD;
    }
    if (flags & TR_PERSISTER_ENTRY) {
        const float rate = c == C_SENSITIVE ? sc[TR_ENTRY_SENSITIVE] : (c == C_PRIMED ? sc[TR_ENTRY_PRIMED] : 0.0f);
        float ke = rate * s;
        if (flags & TR_ENTRY_MEMORY) ke = ke * (one + sc[TR_ENTRY_MEMORY_BOOST] * m);
        if (flags & TR_ENTRY_G1) ke = ke * (clk < sc[TR_ENTRY_G1_FRACTION] ? sc[TR_ENTRY_G1_BOOST] : one);
        if (flags & TR_ENTRY_HGF) ke = ke * (one + sc[TR_ENTRY_HGF_BOOST] * met_signal[v]);
        if (flags & TR_ENTRY_HYPOXIA) {
            const float ho = ramp_below(field_at(fields, n_fields, ch_o2, r, i, nvox), (flags & TR_HYPOXIA_O2_RAMP) != 0,
                                        sc[TR_HYPOXIC_MMHG], sc[TR_HYPOXIC_SPAN]);
            const float hg = ramp_below(field_at(fields, n_fields, ch_glucose, r, i, nvox),
                                        (flags & TR_HYPOXIA_GLUCOSE_RAMP) != 0, sc[TR_LOW_GLUCOSE],
                                        sc[TR_LOW_GLUCOSE_SPAN]);
            ke = ke * (one + sc[TR_ENTRY_HYPOXIA_BOOST] * np_maximum(ho, hg));
        }
        if (flags & TR_ENTRY_DEATH_SIGNAL) {
            const float atp = np_maximum(field_at(fields, n_fields, ch_death_signal, r, i, nvox), 0.0f);
            ke = ke * (one + sc[TR_ENTRY_DEATH_SIGNAL_BOOST] * (atp / (atp + sc[TR_DEATH_SIGNAL_HALF])));
        }
        if (flags & TR_ENTRY_BLOCK) ke = ke * (one - entry_block[v]);
        k[n] = ke;
        target[n++] = C_DTP;
    }
    if (flags & TR_SWITCHING) {
        k[n] = c == C_SENSITIVE ? sc[TR_TO_PRIMED] : (c == C_PRIMED ? sc[TR_TO_SENSITIVE] : 0.0f);
        target[n++] = c == C_SENSITIVE ? C_PRIMED : C_SENSITIVE;
    }
    if (flags & TR_DTEP_EMERGENCE) {
        const float ramp = (flags & TR_DTEP_RAMP) ? np_minimum(tim / sc[TR_DTEP_RAMP_H], one) : one;
        float kd = (c == C_DTP ? sc[TR_DTEP_MAX] * ramp : 0.0f) * s;
        if (flags & TR_DTEP_HGF) kd = kd * (one + sc[TR_DTEP_HGF_BOOST] * met_signal[v]);
        k[n] = kd;
        target[n++] = C_DTEP;
    }
    if (flags & TR_REVERSION) {
        float kr = c == C_DTP ? sc[TR_REVERT_DTP] : (c == C_DTEP ? sc[TR_REVERT_DTEP] : 0.0f);
        if (has_stress) kr = kr * (one - s);
        kr = kr / (one + sc[TR_MEMORY_SLOWING] * m);
        k[n] = kr;
        target[n++] = C_SENSITIVE;
    }
    if (flags & TR_INDUCED_RESISTANCE) {
        const bool susceptible = live && c != C_RESISTANT;
        k[n] = (susceptible ? 1.0f : 0.0f) * (sc[TR_INDUCED] * s);
        target[n++] = C_RESISTANT;
    }

    memory_out[v] = mem;
    if (n == 0) {
        cells_out[v] = c; clock_out[v] = clk; timer_out[v] = tim;
        return;
    }
    // Competing outcomes: outcome j when Σ_{<j} ≤ u/P·K < Σ_{≤j}, P = 1 − e^(−KΔt).
    float total = k[0];
    for (int j = 1; j < n; ++j) total = total + k[j];
    const float p_any = pm_one_minus_exp_neg(total * sc[TR_STEP_H]);
    const float inv_total = total > 0.0f ? one / total : 0.0f;
    const float u = uniform0(seed, (uint32_t)r, (uint32_t)i, step, STREAM_FATE, 0);
    uint8_t out = c;
    bool decided = false;
    float acc = 0.0f;
    for (int j = 0; j < n; ++j) {
        acc = j == 0 ? k[0] : acc + k[j];
        const bool hit = !decided && (u < p_any * (acc * inv_total));
        if (hit) { out = target[j]; decided = true; }
    }
    // Dying cells and cells entering the DTP state (quiescence) leave the cycle: clock 0.
    const bool stopped = decided && (out == C_DEAD || out == C_DTP);
    cells_out[v] = out;
    clock_out[v] = stopped ? 0.0f : clk;
    timer_out[v] = decided ? 0.0f : tim;
}

// Initial tumour cells (S) become P when u < primed, else R when u < primed + resistant (stream
// INITIAL, step 0, draw 1).
extern "C" __global__ void initial_phenotypes(const uint8_t* cells, float primed, float primed_or_resistant,
                                              uint32_t seed, int R, long nvox, uint8_t* cells_out) {
    const long v = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (v >= (long)R * nvox) return;
    const long r = v / nvox, i = v % nvox;
    const uint8_t c = cells[v];
    const float u = uniform0(seed, (uint32_t)r, (uint32_t)i, 0, STREAM_INITIAL, 1);
    const bool tumour = c == C_SENSITIVE;
    const bool is_primed = tumour && (u < primed);
    const bool is_resistant = tumour && !is_primed && (u < primed_or_resistant);
    cells_out[v] = is_primed ? (uint8_t)C_PRIMED : (is_resistant ? (uint8_t)C_RESISTANT : c);
}
