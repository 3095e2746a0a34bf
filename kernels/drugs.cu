// Pharmacodynamics: the CUDA twins of lattice/processes/drugs.py `effects` (every drug's local
// effect on each voxel, fused into one pass) and `division_kill` (cytotoxic kill at division).
// One thread per voxel over R × nvox.
#include "rules.cuh"

// Drug kinds DRUG_KIND_*, per-drug parameter indices DRUG_* (DRUG_NF per drug) and the output
// bits EFFECT_* come from the generated constants.cuh (lattice/processes/drugs.py plan).

// drug_int: (kind, field channel) per drug, in treatment.drugs order; drug_float: DRUG_NF per drug;
// ec50_table: (n_drugs, 256) EC50 × fold per occupant code (drugs.ec50_table). ch_hgf < 0: no hgf
// field; ch_o2 < 0: no gpx4 drug (oxygen not read).
extern "C" __global__ void drug_effects(const uint8_t* cells, const float* fields, int n_fields, int n_drugs,
                                        const int* drug_int, const float* drug_float, const float* ec50_table,
                                        int ch_hgf, float hgf_half, float met_protection, int ch_o2, int outputs,
                                        int R, long nvox, float* stress_out, float* kill_out,
                                        float* division_kill_out, float* cytostasis_out, float* entry_block_out,
                                        float* met_signal_out, float* checkpoint_out) {
    const long v = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (v >= (long)R * nvox) return;
    const long r = v / nvox, i = v % nvox;
    const uint8_t code = cells[v];

    // MET inhibition and checkpoint blockade: max over drugs of Hill(c; EC50, n, Emax).
    float met_inhibition = 0.0f, checkpoint = 0.0f;
    bool has_met_inhibition = false, has_checkpoint = false;
    for (int d = 0; d < n_drugs; ++d) {
        const int kind = drug_int[2 * d];
        if (kind != DRUG_KIND_MET_INHIBITOR && kind != DRUG_KIND_ANTI_PD1) continue;
        const float* pf = drug_float + DRUG_NF * d;
        const float c = field_at(fields, n_fields, drug_int[2 * d + 1], r, i, nvox);
        const float h = pm_hill(c, pf[DRUG_EC50_UM], pf[DRUG_HILL_N], pf[DRUG_EMAX]);
        if (kind == DRUG_KIND_MET_INHIBITOR) {
            met_inhibition = has_met_inhibition ? np_maximum(met_inhibition, h) : h;
            has_met_inhibition = true;
        } else {
            checkpoint = has_checkpoint ? np_maximum(checkpoint, h) : h;
            has_checkpoint = true;
        }
    }
    float met_signal = 0.0f, protection = 1.0f;
    const bool has_met = ch_hgf >= 0;
    if (has_met) {
        const float hgf = np_maximum(field_at(fields, n_fields, ch_hgf, r, i, nvox), 0.0f);
        met_signal = hgf / (hgf + hgf_half);
        if (has_met_inhibition) met_signal = met_signal * (1.0f - met_inhibition);
        protection = 1.0f - met_protection * met_signal;
    }

    float stress = 0.0f, kill = 0.0f, division_survival = 0.0f, growth = 0.0f, block = 0.0f;
    bool has_stress = false, has_kill = false, has_division = false, has_growth = false, has_block = false;
    for (int d = 0; d < n_drugs; ++d) {
        const int kind = drug_int[2 * d];
        if (kind == DRUG_KIND_MET_INHIBITOR || kind == DRUG_KIND_ANTI_PD1) continue;
        const float* pf = drug_float + DRUG_NF * d;
        const float c = field_at(fields, n_fields, drug_int[2 * d + 1], r, i, nvox);
        float e_state = pm_hill(c, ec50_table[256 * d + code], pf[DRUG_HILL_N], pf[DRUG_EMAX]);  // hill_local
        if (kind == DRUG_KIND_TARGETED || kind == DRUG_KIND_CYTOTOXIC) {
            const float s = pm_hill(c, pf[DRUG_EC50_UM], pf[DRUG_HILL_N], 1.0f);
            stress = has_stress ? np_maximum(stress, s) : s;
            has_stress = true;
            if (has_met) e_state = e_state * protection;
        }
        if (kind == DRUG_KIND_CYTOTOXIC) {
            const float survive = 1.0f - e_state;
            division_survival = has_division ? division_survival * survive : survive;
            has_division = true;
            continue;
        }
        float hazard = pf[DRUG_KILL_RATE_PER_H] * e_state;
        if (kind == DRUG_KIND_GPX4) {
            const float o2 = np_maximum(field_at(fields, n_fields, ch_o2, r, i, nvox), 0.0f);
            const float denom = o2 + pf[DRUG_O2_HALF_MMHG];
            hazard = hazard * (denom > 0.0f ? o2 / denom : 1.0f);
        } else if (kind == DRUG_KIND_TARGETED) {
            const float slow = 1.0f - pf[DRUG_GROWTH_INHIBITION] * e_state;
            growth = has_growth ? growth * slow : slow;
            has_growth = true;
        } else if (kind == DRUG_KIND_EPIGENETIC) {
            const float b = pf[DRUG_ENTRY_BLOCK] * pm_hill(c, pf[DRUG_EC50_UM], pf[DRUG_HILL_N], 1.0f);
            block = has_block ? np_maximum(block, b) : b;
            has_block = true;
        }
        kill = has_kill ? kill + hazard : hazard;
        has_kill = true;
    }
    if (outputs & EFFECT_STRESS) stress_out[v] = stress;
    if (outputs & EFFECT_KILL_PER_H) kill_out[v] = kill;
    if (outputs & EFFECT_DIVISION_KILL) division_kill_out[v] = 1.0f - division_survival;
    if (outputs & EFFECT_CYTOSTASIS) cytostasis_out[v] = 1.0f - growth;
    if (outputs & EFFECT_ENTRY_BLOCK) entry_block_out[v] = block;
    if (outputs & EFFECT_MET_SIGNAL) met_signal_out[v] = met_signal;
    if (outputs & EFFECT_CHECKPOINT) checkpoint_out[v] = checkpoint;
}

// A cell attempting division (intent and a free neighbour: empty or normal tissue) dies instead
// (apoptotic, timer = one step) with probability division_kill (stream DRUG). Offsets (dz, dy, dx)
// in Grid.offsets order.
extern "C" __global__ void division_kill(const uint8_t* cells, const float* clock, const float* timer,
                                         const bool* intents, const float* kill_probability, const int* offsets,
                                         int n_dirs, int R, int nz, int ny, int nx, float step_h, uint32_t seed,
                                         uint32_t step, uint8_t* cells_out, float* clock_out, float* timer_out,
                                         bool* intents_out) {
    const long nvox = (long)nz * ny * nx;
    const long v = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (v >= (long)R * nvox) return;
    const long r = v / nvox, i = v % nvox;
    bool room = false;
    if (intents[v]) {
        for (int k = 0; k < n_dirs && !room; ++k) {
            long w;
            if (rules_neighbour(nz, ny, nx, v, offsets[3 * k], offsets[3 * k + 1], offsets[3 * k + 2], &w)) {
                room = is_free_space(cells[w]);
            }
        }
    }
    const bool attempt = intents[v] && room;
    const float u = uniform0(seed, (uint32_t)r, (uint32_t)i, step, STREAM_DRUG, 0);
    const bool dies = attempt && (u < kill_probability[v]);
    cells_out[v] = dies ? (uint8_t)C_DEAD : cells[v];
    clock_out[v] = dies ? 0.0f : clock[v];
    timer_out[v] = dies ? step_h : timer[v];
    intents_out[v] = intents[v] && !dies;
}
