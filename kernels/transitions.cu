// The DTP life cycle: the CUDA twins of lattice/processes/transitions.py `update` (competing
// fates of every live tumour cell, one FATE uniform partitioned over the active rules, and the
// memory update) and `initial_phenotypes`. One thread per voxel over R × nvox.
#include "rules.cuh"

// flags (launcher: kernels/transitions.py): which rules exist (in partition order) and which
// optional factors apply — the same conditions under which the NumPy code builds them.
#define R_DRUG_DEATH 1          // fx.kill_per_h is not None
#define R_ENTRY 2               // fx.stress is not None
#define R_SWITCHING 4           // a switching rate is non-zero
#define R_DTEP 8                // fx.stress and dtep.max_per_h != 0
#define R_REVERSION 16          // a reversion rate is non-zero
#define R_INDUCED 32            // fx.stress and mutation.induced_per_h != 0
#define F_STRESS 64             // fx.stress is not None
#define F_ENTRY_MEMORY 128      // entry.memory_boost != 0
#define F_ENTRY_G1 256          // entry.g1_boost != 1
#define F_ENTRY_HGF 512         // entry.hgf_boost != 0 and fx.met_signal
#define F_ENTRY_HYPOXIA 1024    // entry.hypoxia_boost != 0
#define F_ENTRY_DEATH 2048      // entry.death_signal_boost != 0
#define F_ENTRY_BLOCK 4096      // fx.entry_block is not None
#define F_DTEP_RAMP 8192        // dtep.ramp_h > 0
#define F_DTEP_HGF 16384        // dtep.hgf_boost != 0 and fx.met_signal
#define F_HYPOXIA_O2_RAMP 32768   // signals.hypoxic_mmHg > o2_necrosis_threshold (else a step)
#define F_HYPOXIA_GLC_RAMP 65536  // signals.low_glucose > glucose_starvation_threshold (else a step)

// _ramp_below: 0 at x ≥ start rising to 1 at x ≤ full (span = start − full), or a step at start.
__device__ __forceinline__ float ramp_below(float x, bool ramp, float start, float span) {
    if (ramp) return np_clip((start - x) / span, 0.0f, 1.0f);
    return x < start ? 1.0f : 0.0f;
}

extern "C" __global__ void transitions_update(
    const uint8_t* cells, const float* clock, const float* memory, const float* timer,
    const float* fields, int n_fields, int ch_o2, int ch_glucose, int ch_death_signal,
    const float* stress, const float* kill, const float* met_signal, const float* entry_block, int flags,
    float entry_sensitive, float entry_primed, float entry_memory_boost, float entry_g1_fraction,
    float entry_g1_boost, float entry_hgf_boost, float entry_hypoxia_boost, float entry_death_boost,
    float death_signal_half, float hypoxic_mmHg, float hypoxic_span, float low_glucose, float low_glucose_span,
    float to_primed, float to_sensitive, float dtep_max, float dtep_ramp_h, float dtep_hgf_boost,
    float revert_dtp, float revert_dtep, float memory_slowing, float induced, float memory_lose,
    float memory_gain, float step_h, uint32_t seed, uint32_t step, int R, long nvox,
    uint8_t* cells_out, float* clock_out, float* memory_out, float* timer_out) {
    const long v = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (v >= (long)R * nvox) return;
    const long r = v / nvox, i = v % nvox;
    const uint8_t c = cells[v];
    const float m = memory[v], clk = clock[v], tim = timer[v];
    const bool live = is_live_tumour(c);
    const bool has_stress = (flags & F_STRESS) != 0;
    const float s = has_stress ? stress[v] : 0.0f;

    // update_memory
    const float one = 1.0f;
    float mem;
    if (!has_stress) {
        mem = live ? m - m * memory_lose : m;
    } else {
        const bool persister = (c == C_DTP) || (c == C_DTEP);
        const float gain = persister ? ((one - m) * memory_gain) * s : 0.0f;
        const float next = (m + gain) - (m * memory_lose) * (one - s);
        mem = live ? np_clip(next, 0.0f, 1.0f) : m;
    }

    // hazards(): (hazard 1/h, target code) in partition order.
    float k[6];
    uint8_t target[6];
    int n = 0;
    if (flags & R_DRUG_DEATH) {
        k[n] = (live ? 1.0f : 0.0f) * kill[v];
        target[n++] = C_DEAD;
    }
    if (flags & R_ENTRY) {
        const float rate = c == C_SENSITIVE ? entry_sensitive : (c == C_PRIMED ? entry_primed : 0.0f);
        float ke = rate * s;
        if (flags & F_ENTRY_MEMORY) ke = ke * (one + entry_memory_boost * m);
        if (flags & F_ENTRY_G1) ke = ke * (clk < entry_g1_fraction ? entry_g1_boost : one);
        if (flags & F_ENTRY_HGF) ke = ke * (one + entry_hgf_boost * met_signal[v]);
        if (flags & F_ENTRY_HYPOXIA) {
            const float ho = ramp_below(field_at(fields, n_fields, ch_o2, r, i, nvox), (flags & F_HYPOXIA_O2_RAMP) != 0,
                                        hypoxic_mmHg, hypoxic_span);
            const float hg = ramp_below(field_at(fields, n_fields, ch_glucose, r, i, nvox),
                                        (flags & F_HYPOXIA_GLC_RAMP) != 0, low_glucose, low_glucose_span);
            ke = ke * (one + entry_hypoxia_boost * np_maximum(ho, hg));
        }
        if (flags & F_ENTRY_DEATH) {
            const float atp = np_maximum(field_at(fields, n_fields, ch_death_signal, r, i, nvox), 0.0f);
            ke = ke * (one + entry_death_boost * (atp / (atp + death_signal_half)));
        }
        if (flags & F_ENTRY_BLOCK) ke = ke * (one - entry_block[v]);
        k[n] = ke;
        target[n++] = C_DTP;
    }
    if (flags & R_SWITCHING) {
        k[n] = c == C_SENSITIVE ? to_primed : (c == C_PRIMED ? to_sensitive : 0.0f);
        target[n++] = c == C_SENSITIVE ? C_PRIMED : C_SENSITIVE;
    }
    if (flags & R_DTEP) {
        const float ramp = (flags & F_DTEP_RAMP) ? np_minimum(tim / dtep_ramp_h, one) : one;
        float kd = (c == C_DTP ? dtep_max * ramp : 0.0f) * s;
        if (flags & F_DTEP_HGF) kd = kd * (one + dtep_hgf_boost * met_signal[v]);
        k[n] = kd;
        target[n++] = C_DTEP;
    }
    if (flags & R_REVERSION) {
        float kr = c == C_DTP ? revert_dtp : (c == C_DTEP ? revert_dtep : 0.0f);
        if (has_stress) kr = kr * (one - s);
        kr = kr / (one + memory_slowing * m);
        k[n] = kr;
        target[n++] = C_SENSITIVE;
    }
    if (flags & R_INDUCED) {
        const bool susceptible = c >= C_SENSITIVE && c <= C_DTEP;
        k[n] = (susceptible ? 1.0f : 0.0f) * (induced * s);
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
    const float p_any = pm_one_minus_exp_neg(total * step_h);
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
