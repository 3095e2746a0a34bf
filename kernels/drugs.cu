// Pharmacodynamics: the CUDA twins of lattice/processes/drugs.py `effects` (every drug's local
// effect on each voxel, fused into one pass) and `division_kill` (cytotoxic kill at division).
// One thread per voxel over R × nvox.
#include "rules.cuh"

// Drug kinds (launcher: kernels/drugs.py KIND_CODES).
#define K_TARGETED 0
#define K_CYTOTOXIC 1
#define K_EPIGENETIC 2
#define K_OXPHOS 3
#define K_FAO 4
#define K_GPX4 5
#define K_MET_INHIBITOR 6
#define K_ANTI_PD1 7

// Per-drug float parameters, DRUG_NF of them per drug (launcher: kernels/drugs.py FLOAT_PARAMS).
#define DRUG_NF 7
#define DF_EC50 0
#define DF_HILL_N 1
#define DF_EMAX 2
#define DF_KILL_RATE 3
#define DF_GROWTH_INHIBITION 4
#define DF_ENTRY_BLOCK 5
#define DF_O2_HALF 6

// Output bits: which Effects arrays exist (the NumPy code returns None for the others).
#define OUT_STRESS 1
#define OUT_KILL 2
#define OUT_DIVISION_KILL 4
#define OUT_CYTOSTASIS 8
#define OUT_ENTRY_BLOCK 16
#define OUT_MET_SIGNAL 32
#define OUT_CHECKPOINT 64

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
        if (kind != K_MET_INHIBITOR && kind != K_ANTI_PD1) continue;
        const float* pf = drug_float + DRUG_NF * d;
        const float c = field_at(fields, n_fields, drug_int[2 * d + 1], r, i, nvox);
        const float h = pm_hill(c, pf[DF_EC50], pf[DF_HILL_N], pf[DF_EMAX]);
        if (kind == K_MET_INHIBITOR) {
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
        if (kind == K_MET_INHIBITOR || kind == K_ANTI_PD1) continue;
        const float* pf = drug_float + DRUG_NF * d;
        const float c = field_at(fields, n_fields, drug_int[2 * d + 1], r, i, nvox);
        float e_state = pm_hill(c, ec50_table[256 * d + code], pf[DF_HILL_N], pf[DF_EMAX]);  // hill_local
        if (kind == K_TARGETED || kind == K_CYTOTOXIC) {
            const float s = pm_hill(c, pf[DF_EC50], pf[DF_HILL_N], 1.0f);
            stress = has_stress ? np_maximum(stress, s) : s;
            has_stress = true;
            if (has_met) e_state = e_state * protection;
        }
        if (kind == K_CYTOTOXIC) {
            const float survive = 1.0f - e_state;
            division_survival = has_division ? division_survival * survive : survive;
            has_division = true;
            continue;
        }
        float hazard = pf[DF_KILL_RATE] * e_state;
        if (kind == K_GPX4) {
            const float o2 = np_maximum(field_at(fields, n_fields, ch_o2, r, i, nvox), 0.0f);
            const float denom = o2 + pf[DF_O2_HALF];
            hazard = hazard * (denom > 0.0f ? o2 / denom : 1.0f);
        } else if (kind == K_TARGETED) {
            const float slow = 1.0f - pf[DF_GROWTH_INHIBITION] * e_state;
            growth = has_growth ? growth * slow : slow;
            has_growth = true;
        } else if (kind == K_EPIGENETIC) {
            const float b = pf[DF_ENTRY_BLOCK] * pm_hill(c, pf[DF_EC50], pf[DF_HILL_N], 1.0f);
            block = has_block ? np_maximum(block, b) : b;
            has_block = true;
        }
        kill = has_kill ? kill + hazard : hazard;
        has_kill = true;
    }
    if (outputs & OUT_STRESS) stress_out[v] = stress;
    if (outputs & OUT_KILL) kill_out[v] = kill;
    if (outputs & OUT_DIVISION_KILL) division_kill_out[v] = 1.0f - division_survival;
    if (outputs & OUT_CYTOSTASIS) cytostasis_out[v] = 1.0f - growth;
    if (outputs & OUT_ENTRY_BLOCK) entry_block_out[v] = block;
    if (outputs & OUT_MET_SIGNAL) met_signal_out[v] = met_signal;
    if (outputs & OUT_CHECKPOINT) checkpoint_out[v] = checkpoint;
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
                const uint8_t cw = cells[w];
                room = cw == C_EMPTY || cw == C_NORMAL;
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
