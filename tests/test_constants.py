"""The constants shared by Python and the kernels are defined once: ``kernels/constants.cuh`` is
what ``lattice.kernels.gen_constants`` writes from the Python definitions, no kernel source
restates one, and the generated C predicates agree with the Python ones on every code."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from lattice.kernels import gen_constants

from lattice import codes
from lattice.processes import plans, transitions
from lattice.rng import Stream

KERNELS = Path(__file__).resolve().parents[1] / "kernels"


def test_checked_in_header_is_the_generated_one():
    assert gen_constants.HEADER == KERNELS / "constants.cuh"
    assert gen_constants.HEADER.read_text() == gen_constants.render(), \
        f"kernels/constants.cuh is stale: run `{gen_constants.COMMAND}`"
    assert gen_constants.main(["--check"]) == 0


def test_header_says_it_is_generated_and_how_to_regenerate():
    head = gen_constants.HEADER.read_text().splitlines()[:3]
    assert "GENERATED" in head[0] and gen_constants.COMMAND in head[0] and "Do not edit" in head[0]


def test_a_changed_definition_makes_the_header_stale(monkeypatch):
    """The drift check can fail: a new live tumour state changes the rendered header."""
    before = gen_constants.render()
    monkeypatch.setattr(codes, "TUMOUR_CODES", (*codes.TUMOUR_CODES, codes.SENESCENT_CAF))
    assert gen_constants.render() != before
    assert gen_constants.main(["--check"]) == 1


def defines(text: str) -> dict[str, str]:
    return dict(re.findall(r"^\s*#define\s+(\w+)\s+(\S+)", text, flags=re.MULTILINE))


def test_header_values_are_the_python_values():
    d = defines(gen_constants.HEADER.read_text())
    for code, (name, _) in codes.CELL_LABELS.items():
        assert int(d[f"C_{name.upper()}"]) == code
    for code, (name, _) in codes.IMMUNE_LABELS.items():
        assert int(d[f"IM_{name.upper()}"]) == code
    for s in Stream:
        assert int(d[f"STREAM_{s.name}"]) == int(s)
    for i, flag in enumerate(transitions.FLAGS):
        assert int(d[f"TR_{flag.name.upper()}"]) == 1 << i
    for i, sc in enumerate(transitions.SCALARS):
        assert int(d[f"TR_{sc.name.upper()}"]) == i
    assert int(d["TR_N_RULES"]) == len(transitions.RULES)


def test_no_kernel_source_restates_a_generated_constant():
    generated = set(defines(gen_constants.HEADER.read_text()))
    for path in sorted(KERNELS.glob("*.cu*")):
        if path.name == "constants.cuh":
            continue
        again = generated & set(defines(path.read_text()))
        assert not again, f"{path.name} redefines {sorted(again)}: include constants.cuh instead"


@pytest.mark.parametrize("source", ["cycle", "death", "drugs", "transitions", "mutation", "placement", "immune"])
def test_every_rule_kernel_gets_the_generated_header(source):
    text = (KERNELS / f"{source}.cu").read_text()
    via_rules = '#include "rules.cuh"' in text and '#include "constants.cuh"' in (KERNELS / "rules.cuh").read_text()
    assert '#include "constants.cuh"' in text or via_rules


def test_python_predicates_are_the_code_sets():
    every = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(codes.is_live_tumour(every), np.isin(every, codes.TUMOUR_CODES))
    np.testing.assert_array_equal(codes.is_free_space(every), np.isin(every, codes.FREE_SPACE_CODES))


PROBE = r"""
#include <cstdio>
#define __device__
#define __forceinline__ inline
#include "constants.cuh"
int main() {
    for (int c = 0; c < 256; ++c) std::printf("%d%d", (int)is_live_tumour((uint8_t)c), (int)is_free_space((uint8_t)c));
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")
def test_c_predicates_agree_with_python_on_every_code(tmp_path):
    src, exe = tmp_path / "probe.cpp", tmp_path / "probe"
    src.write_text(PROBE)
    subprocess.run(["g++", "-std=c++17", "-I", str(KERNELS), str(src), "-o", str(exe)], check=True,
                   capture_output=True, timeout=120)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True, timeout=30).stdout
    got = np.array([int(ch) for ch in out], dtype=bool).reshape(256, 2)
    every = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(got[:, 0], codes.is_live_tumour(every))
    np.testing.assert_array_equal(got[:, 1], codes.is_free_space(every))


def test_plan_rounds_each_scalar_once_and_sets_declared_bits():
    decl_flags = (plans.Flag("a", lambda p, fx: True), plans.Flag("b", lambda p, fx: "x" in fx),
                  plans.Flag("c", lambda p, fx: p > 1))
    decl_scalars = (plans.Scalar("third", lambda p: 1 / 3), plans.Scalar("p", lambda p: float(p)))
    pl = plans.build(decl_flags, decl_scalars, 2, frozenset({"x"}))
    assert pl.flags == 0b111 and pl.on("b")
    assert plans.build(decl_flags, decl_scalars, 0, frozenset()).flags == 0b001
    assert pl.scalars.dtype == np.float32 and pl.scalars[0] == np.float32(1 / 3)
    assert pl.f["p"] == np.float32(2.0) and type(pl.f["third"]) is np.float32
    with pytest.raises(KeyError, match="no flag 'd'"):
        pl.on("d")
    with pytest.raises(ValueError, match="31 flags"):
        plans.build(tuple(plans.Flag(f"f{i}", lambda p, fx: False) for i in range(32)), (), None, frozenset())


def test_transitions_plan_follows_the_parameters():
    """Each rule's bit is on exactly when its parameters (and drug effects) make it exist."""
    from tests.conftest import build_model

    model = build_model("grid.shape=[4,4]", "tumour.switching.to_primed_per_h=0",
                        "tumour.switching.to_sensitive_per_h=0", "tumour.reversion.dtp_per_h=0.1")
    pl = transitions.plan(model)
    assert not pl.on("switching") and pl.on("reversion") and not pl.on("persister_entry")
    assert pl.f["revert_dtp"] == np.float32(0.1)
    from lattice.processes.drugs import Effects

    stressed = transitions.plan(model, Effects(stress=np.zeros((1, 4, 4), np.float32)))
    assert stressed.on("persister_entry") and stressed.on("stress") and stressed is not pl
    assert transitions.plan(model) is pl  # cached per set of present effects


def test_drug_plan_predicts_which_effects_exist():
    """The launcher allocates the Effects arrays the plan says exist; the NumPy body must return
    exactly those (every drug kind, with and without an HGF field)."""
    from lattice.processes import drugs
    from tests.rules_cases import build_case, case_state

    # No drug; targeted only; every kind with an HGF field; an epigenetic combination.
    for case in ("2d_untreated", "2d_continuous", "all_kinds_hgf", "epigenetic"):
        model = build_case(case)
        fx = drugs.effects(case_state(case, model), model)
        assert drugs.present(fx) == drugs.expected_effects(model.params, model.registry.names), case
        if model.params.treatment.drugs:
            assert drugs.plan(model).flags == sum(1 << i for i, n in enumerate(drugs.EFFECT_NAMES)
                                                  if n in drugs.present(fx)), case
