"""CuPy launcher for ``transitions.cu``: the CUDA twins of
:func:`lattice.processes.transitions.update` and :func:`lattice.processes.transitions.initial_phenotypes`."""

from __future__ import annotations

import math

import numpy as np

from . import _rules as k

# Flag bits of transitions.cu: the rules that exist (partition order) and optional factors.
R_DRUG_DEATH, R_ENTRY, R_SWITCHING, R_DTEP, R_REVERSION, R_INDUCED = 1, 2, 4, 8, 16, 32
F_STRESS, F_ENTRY_MEMORY, F_ENTRY_G1, F_ENTRY_HGF = 64, 128, 256, 512
F_ENTRY_HYPOXIA, F_ENTRY_DEATH, F_ENTRY_BLOCK, F_DTEP_RAMP = 1024, 2048, 4096, 8192
F_DTEP_HGF, F_HYPOXIA_O2_RAMP, F_HYPOXIA_GLC_RAMP = 16384, 32768, 65536
RULES = R_DRUG_DEATH | R_ENTRY | R_SWITCHING | R_DTEP | R_REVERSION | R_INDUCED


def flags(model, fx) -> int:
    """The flag word: each bit set under the same condition as the NumPy rule or factor."""
    t = model.params.tumour
    en, sw, dt_, rv = t.entry, t.switching, t.dtep, t.reversion
    stress, met = fx.stress is not None, fx.met_signal is not None
    bits = {
        R_DRUG_DEATH: fx.kill_per_h is not None,
        R_ENTRY: stress,
        R_SWITCHING: not (sw.to_primed_per_h == 0 and sw.to_sensitive_per_h == 0),
        R_DTEP: stress and dt_.max_per_h != 0,
        R_REVERSION: not (rv.dtp_per_h == 0 and rv.dtep_per_h == 0),
        R_INDUCED: stress and t.mutation.induced_per_h != 0,
        F_STRESS: stress,
        F_ENTRY_MEMORY: bool(en.memory_boost),
        F_ENTRY_G1: en.g1_boost != 1.0,
        F_ENTRY_HGF: bool(en.hgf_boost) and met,
        F_ENTRY_HYPOXIA: bool(en.hypoxia_boost),
        F_ENTRY_DEATH: bool(en.death_signal_boost),
        F_ENTRY_BLOCK: fx.entry_block is not None,
        F_DTEP_RAMP: dt_.ramp_h > 0,
        F_DTEP_HGF: bool(dt_.hgf_boost) and met,
        F_HYPOXIA_O2_RAMP: t.signals.hypoxic_mmHg > t.o2_necrosis_threshold_mmHg,
        F_HYPOXIA_GLC_RAMP: t.signals.low_glucose > t.glucose_starvation_threshold,
    }
    return sum(bit for bit, on in bits.items() if on)


def _span(start: float, full: float) -> np.float32:
    """``f32(start − full)`` of ``_ramp_below`` (1 where the ramp is a step and the span unused)."""
    return np.float32(start - full) if start > full else np.float32(1)


class Transitions(k.RuleKernels):
    source = "transitions"

    def update(self, state, model, fx=None):
        """Same contract as the NumPy ``update``: returns the new state."""
        from lattice.processes import drugs

        fx = drugs.effects(state, model) if fx is None else fx
        p = model.params
        t, dt = p.tumour, p.step_h
        en, sw, dt_, rv, sig = t.entry, t.switching, t.dtep, t.reversion, t.signals
        bits = flags(model, fx)
        hypoxia = bits & R_ENTRY and bits & F_ENTRY_HYPOXIA
        death_signal = bits & R_ENTRY and bits & F_ENTRY_DEATH
        # Host constants exactly as transitions.update_memory computes them.
        lose = np.float32(-math.expm1(-math.log(2.0) * dt / (t.memory.half_life_generations * t.cycle_h)))
        gain = np.float32(-math.expm1(-t.memory.gain_per_h * dt))
        f32 = np.float32
        out = [k.empty(model, state.cells, np.uint8)]
        out += [k.empty(model, state.clock, np.float32) for _ in range(3)]
        self.launch("transitions_update", model, (
            k.arg(model, state.cells, np.uint8), k.arg(model, state.clock, np.float32),
            k.arg(model, state.memory, np.float32), k.arg(model, state.timer_h, np.float32),
            *k.fields_args(model, state),
            k.channel(model, "oxygen") if hypoxia else np.int32(0),
            k.channel(model, "glucose") if hypoxia else np.int32(0),
            k.channel(model, "death_signal") if death_signal else np.int32(0),
            k.optional(model, fx.stress, np.float32)[0], k.optional(model, fx.kill_per_h, np.float32)[0],
            k.optional(model, fx.met_signal, np.float32)[0], k.optional(model, fx.entry_block, np.float32)[0],
            np.int32(bits),
            f32(en.sensitive_per_h), f32(en.primed_per_h), f32(en.memory_boost), f32(en.g1_fraction),
            f32(en.g1_boost), f32(en.hgf_boost), f32(en.hypoxia_boost), f32(en.death_signal_boost),
            f32(sig.death_signal_half),
            f32(sig.hypoxic_mmHg), _span(sig.hypoxic_mmHg, t.o2_necrosis_threshold_mmHg),
            f32(sig.low_glucose), _span(sig.low_glucose, t.glucose_starvation_threshold),
            f32(sw.to_primed_per_h), f32(sw.to_sensitive_per_h),
            f32(dt_.max_per_h), f32(dt_.ramp_h) if dt_.ramp_h > 0 else f32(1), f32(dt_.hgf_boost),
            f32(rv.dtp_per_h), f32(rv.dtep_per_h), f32(rv.memory_slowing),
            f32(t.mutation.induced_per_h), lose, gain, f32(dt),
            k.seed_arg(model), k.step_arg(state), *k.lattice_args(model),
            *out,
        ))
        cells, clock, memory, timer = out
        if not bits & RULES:
            return state.replace(memory=memory)
        return state.replace(cells=cells, clock=clock, timer_h=timer, memory=memory)

    def initial_phenotypes(self, state, model):
        """Same contract as the NumPy ``initial_phenotypes``: returns the new state."""
        ini = model.params.tumour.initial
        if ini.primed_fraction == 0 and ini.resistant_fraction == 0:
            return state
        cells = k.empty(model, state.cells, np.uint8)
        self.launch("initial_phenotypes", model, (
            k.arg(model, state.cells, np.uint8), np.float32(ini.primed_fraction),
            np.float32(ini.primed_fraction + ini.resistant_fraction), k.seed_arg(model),
            *k.lattice_args(model), cells,
        ))
        return state.replace(cells=cells)


def load(exact: bool = False) -> Transitions:
    return Transitions(exact)
