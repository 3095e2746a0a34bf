"""``lattice-cohort``: a virtual trial: sampled patients, every arm on the same patients.

    lattice-cohort --cohort competitive_release --out runs/cohort
    lattice-cohort --cohort my_trial.yaml --out runs/cohort --patients 10 grid.shape=[20,20]

A cohort file (``conf/cohort/<name>.yaml`` or any YAML file of that layout) states the scenario
(``lattice-run`` overrides), the number of patients, the arms (each with its own overrides, e.g.
``treatment=adaptive``) and the distributions patients are drawn from: organ presets with
probabilities, host traits (``host.age``, ``host.sex``, ``host.metabolic``) with probabilities,
and tumour parameters (any config key) with a distribution:

- ``{dist: uniform, low, high}``, ``{dist: loguniform, low, high}``,
- ``{dist: lognormal, median, sigma}`` (sigma of the log), ``{dist: normal, mean, sd}`` (optional
  ``low``/``high`` clip), ``{dist: choice, values: [...], weights: [...]}``, or a plain value.

Patient ``i`` is one lattice at seed ``seed + i`` in every arm: the same initial tumour and the same
random streams, so arms differ only by their treatment (common random numbers).

Per arm: Kaplan–Meier curves of time to progression (censored at the end of the run), hazard ratios
(Cox, with 95 % confidence intervals, :mod:`lattice.survival`) of each arm against the reference arm,
overall and within each subgroup level, and the response rate (nadir burden at or below
``response_below`` × baseline). Outputs in ``--out``: ``patients.csv``, ``outcomes.csv`` (one row per
patient and arm), ``hazard_ratios.csv``, ``response_rates.csv``, ``km.png``, ``forest.png``,
``summary.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from lattice.params import ConfigError

EXIT_CONFIG = 2
DAY_H = 24.0
HOST_TRAITS = ("age", "sex", "metabolic")
DISTRIBUTIONS = ("uniform", "loguniform", "lognormal", "normal", "choice")


@dataclass
class Cohort:
    """A validated cohort file."""

    name: str
    scenario: list[str]
    patients: int
    seed: int
    arms: dict[str, list[str]]
    reference: str
    response_below: float
    organ: dict[str, float]
    host: dict[str, dict[str, float]]
    tumour: dict[str, Any]
    subgroups: list[str]


def available() -> list[str]:
    """Cohort files shipped in ``conf/cohort``."""
    folder = resources.files("lattice.conf").joinpath("cohort")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml")) if folder.is_dir() else []


def load_cohort(name_or_path: str, patients: int | None = None) -> Cohort:
    """Read and check a cohort file (shipped name or path). Raises ConfigError naming the key."""
    import yaml

    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        text, where = path.read_text(), str(path)
    elif name_or_path in available():
        text, where = resources.files("lattice.conf").joinpath("cohort", f"{name_or_path}.yaml").read_text(), name_or_path
    else:
        raise ConfigError(f"--cohort={name_or_path}: not a cohort file; shipped cohorts are {', '.join(available())}")
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        raise ConfigError(f"--cohort={where}: expected a mapping (scenario, patients, arms, …)")
    unknown = set(raw) - {"name", "scenario", "patients", "seed", "arms", "reference", "response_below", "organ",
                          "host", "tumour", "subgroups"}
    if unknown:
        raise ConfigError(f"--cohort={where}: unknown key {min(unknown)}")
    arms = raw.get("arms") or {}
    if len(arms) < 2:
        raise ConfigError(f"--cohort={where}: arms needs at least two arms")
    arms = {str(k): [str(o) for o in (v or [])] for k, v in arms.items()}
    reference = str(raw.get("reference", next(iter(arms))))
    if reference not in arms:
        raise ConfigError(f"--cohort={where}: reference={reference} is not one of the arms ({', '.join(arms)})")
    n = int(patients if patients is not None else raw.get("patients", 0))
    if n < 2:
        raise ConfigError(f"--cohort={where}: patients={n} must be at least 2")
    organ = {str(k): float(v) for k, v in (raw.get("organ") or {"generic": 1.0}).items()}
    host = {str(k): {str(a): float(b) for a, b in v.items()} for k, v in (raw.get("host") or {}).items()}
    bad = set(host) - set(HOST_TRAITS)
    if bad:
        raise ConfigError(f"--cohort={where}: host.{min(bad)} is not a host trait ({', '.join(HOST_TRAITS)})")
    for key, probs in [("organ", organ), *[(f"host.{k}", v) for k, v in host.items()]]:
        if not probs or any(p < 0 for p in probs.values()) or sum(probs.values()) <= 0:
            raise ConfigError(f"--cohort={where}: {key} needs non-negative probabilities with a positive sum")
    tumour = dict(raw.get("tumour") or {})
    for key, spec in tumour.items():
        _check_distribution(key, spec, where)
    subgroups = [str(s) for s in (raw.get("subgroups") or ["organ", *[f"host.{k}" for k in host]])]
    for s in subgroups:
        if s != "organ" and not s.startswith("host."):
            raise ConfigError(f"--cohort={where}: subgroup {s} must be organ or host.<trait>")
    response_below = float(raw.get("response_below", 0.7))
    if not 0 < response_below <= 1:
        raise ConfigError(f"--cohort={where}: response_below={response_below} must be in (0, 1]")
    return Cohort(name=str(raw.get("name", Path(str(name_or_path)).stem)), scenario=[str(s) for s in raw.get("scenario") or []],
                  patients=n, seed=int(raw.get("seed", 0)), arms=arms, reference=reference,
                  response_below=response_below, organ=organ, host=host, tumour=tumour, subgroups=subgroups)


def _check_distribution(key: str, spec: Any, where: str) -> None:
    if not isinstance(spec, dict):
        return  # a fixed value
    kind = spec.get("dist")
    need = {"uniform": ("low", "high"), "loguniform": ("low", "high"), "lognormal": ("median", "sigma"),
            "normal": ("mean", "sd"), "choice": ("values",)}
    if kind not in need:
        raise ConfigError(f"--cohort={where}: tumour.{key}.dist={kind} must be one of {', '.join(DISTRIBUTIONS)}")
    missing = [k for k in need[kind] if k not in spec]
    if missing:
        raise ConfigError(f"--cohort={where}: tumour.{key} ({kind}) needs {missing[0]}")
    if kind in ("uniform", "loguniform") and not spec["low"] < spec["high"]:
        raise ConfigError(f"--cohort={where}: tumour.{key}: low must be below high")
    if kind == "loguniform" and spec["low"] <= 0:
        raise ConfigError(f"--cohort={where}: tumour.{key}: loguniform needs low > 0")


def _draw(spec: Any, rng: np.random.Generator) -> Any:
    if not isinstance(spec, dict):
        return spec
    kind = spec["dist"]
    if kind == "uniform":
        return float(rng.uniform(spec["low"], spec["high"]))
    if kind == "loguniform":
        return float(10 ** rng.uniform(math.log10(spec["low"]), math.log10(spec["high"])))
    if kind == "lognormal":
        return float(spec["median"] * math.exp(spec["sigma"] * rng.standard_normal()))
    if kind == "normal":
        x = spec["mean"] + spec["sd"] * rng.standard_normal()
        return float(np.clip(x, spec.get("low", -np.inf), spec.get("high", np.inf)))
    values = list(spec["values"])
    weights = np.asarray(spec.get("weights", [1.0] * len(values)), float)
    return values[int(rng.choice(len(values), p=weights / weights.sum()))]


def _pick(probs: dict[str, float], rng: np.random.Generator) -> str:
    names = list(probs)
    p = np.asarray([probs[k] for k in names], float)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def sample_patients(cohort: Cohort) -> list[dict[str, Any]]:
    """One dict per patient: ``patient``, ``seed``, ``organ``, ``host.<trait>`` and tumour keys.

    Drawn from ``numpy.random.default_rng(cohort.seed)`` in a fixed order: the same file gives
    the same patients."""
    rng = np.random.default_rng(cohort.seed)
    patients = []
    for i in range(cohort.patients):
        p: dict[str, Any] = {"patient": i, "seed": cohort.seed + i, "organ": _pick(cohort.organ, rng)}
        for trait in HOST_TRAITS:
            if trait in cohort.host:
                p[f"host.{trait}"] = _pick(cohort.host[trait], rng)
        for key, spec in cohort.tumour.items():
            p[key] = _draw(spec, rng)
        patients.append(p)
    return patients


# -- running ---------------------------------------------------------------------------------------
class ArmRunner:
    """Builds (and caches) one ParamsFactory per organ × arm; runs one patient in one arm."""

    def __init__(self, cohort: Cohort, overrides: list[str]):
        self.cohort, self.overrides = cohort, overrides
        self._factories: dict[tuple[str, str], Any] = {}

    def factory(self, organ: str, arm: str):
        from lattice.ensemble import ParamsFactory, base_config

        if (organ, arm) not in self._factories:
            ov = [*self.cohort.scenario, *self.overrides, f"organ={organ}", *self.cohort.arms[arm]]
            self._factories[organ, arm] = ParamsFactory(base_config(ov))
        return self._factories[organ, arm]

    def values(self, patient: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in patient.items() if k not in ("patient", "organ")}

    def params(self, patient: dict[str, Any], arm: str):
        return self.factory(patient["organ"], arm)({**self.values(patient), "replicates": 1})

    def run(self, patient: dict[str, Any], arm: str) -> dict[str, Any]:
        from lattice.ensemble import run_ensemble

        params = self.params(patient, arm)
        result = run_ensemble(params, stop_when_all_progressed=True)
        ev, table = result.events[0], result.tables[0]
        start = ev.get("therapy_start_h", math.nan)
        start = start if math.isfinite(start) else 0.0
        ttp = ev.get("time_to_progression_h", math.nan)
        progressed = math.isfinite(ttp)
        baseline = ev.get("baseline_burden", math.nan)
        nadir = ev.get("nadir_burden", math.nan)
        nadir_fraction = nadir / baseline if baseline and math.isfinite(baseline) and baseline > 0 else math.nan
        dose = sum(float(table[k][-1]) for k in table if k.startswith("cumulative_dose_"))
        return {
            "patient": patient["patient"], "arm": arm,
            "ttp_days": (ttp if progressed else result.time_h - start) / DAY_H, "progressed": progressed,
            "nadir_fraction": nadir_fraction,
            "responder": bool(math.isfinite(nadir_fraction) and nadir_fraction <= self.cohort.response_below),
            "cumulative_dose": dose, "simulated_days": result.time_h / DAY_H, "wall_s": result.wall_s,
        }


def validate(cohort: Cohort, runner: ArmRunner, patients: list[dict[str, Any]]) -> None:
    """Every organ × arm composes and every patient's values are valid in every arm, before any run."""
    for organ in cohort.organ:
        for arm in cohort.arms:
            runner.factory(organ, arm)
    for p in patients:
        for arm in cohort.arms:
            runner.params(p, arm)


# -- analysis ----------------------------------------------------------------------------------------
def analyse(cohort: Cohort, patients, outcomes):
    """KM per arm, hazard ratios (overall and per subgroup level), response rates."""
    import pandas as pd

    from lattice.survival import compare_arms, hazard_ratio

    pt = pd.DataFrame(patients).set_index("patient")
    oc = pd.DataFrame(outcomes)
    arms = [cohort.reference, *[a for a in cohort.arms if a != cohort.reference]]
    data = {a: (oc.loc[oc.arm == a, "ttp_days"].to_numpy(float), oc.loc[oc.arm == a, "progressed"].to_numpy(bool))
            for a in arms}
    curves, tests, _ = compare_arms(data)
    rows = []
    for arm in arms[1:]:
        for subgroup, level, ids in _subsets(cohort, pt):
            sub = oc[oc.patient.isin(ids) & oc.arm.isin([cohort.reference, arm])]
            hr = hazard_ratio(sub.ttp_days.to_numpy(float), sub.progressed.to_numpy(bool),
                              (sub.arm == arm).to_numpy(), arm=arm, reference=cohort.reference)
            rows.append({"arm": arm, "reference": cohort.reference, "subgroup": subgroup, "level": level,
                         "patients": len(ids), "events_arm": int(sub[sub.arm == arm].progressed.sum()),
                         "events_reference": int(sub[sub.arm == cohort.reference].progressed.sum()),
                         "hazard_ratio": hr.ratio, "ci_low": hr.lower, "ci_high": hr.upper, "p_value": hr.p_value})
    responses = [{"arm": a, "patients": int((oc.arm == a).sum()), "responders": int(oc[oc.arm == a].responder.sum()),
                  "response_rate": float(oc[oc.arm == a].responder.mean()),
                  "median_ttp_days": curves[a].median, "progressed": int(oc[oc.arm == a].progressed.sum()),
                  "mean_cumulative_dose": float(oc[oc.arm == a].cumulative_dose.mean())} for a in arms]
    return curves, tests, pd.DataFrame(rows), pd.DataFrame(responses)


def _subsets(cohort: Cohort, pt):
    yield "all", "all", list(pt.index)
    for s in cohort.subgroups:
        if s not in pt.columns:
            continue
        for level in sorted(pt[s].unique()):
            yield s, str(level), list(pt.index[pt[s] == level])


def plot_km(cohort: Cohort, curves, oc, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lattice.survival import plot_km as draw

    fig, ax = plt.subplots(figsize=(6, 4.2), dpi=120)
    durations = {a: (oc.loc[oc.arm == a, "ttp_days"].to_numpy(float), oc.loc[oc.arm == a, "progressed"].to_numpy(bool))
                 for a in curves}
    draw(ax, curves, time_unit="days", xlabel="time since therapy start", durations=durations)
    ax.set_title(f"lattice-cohort {cohort.name}: time to progression ({cohort.patients} patients per arm)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_forest(cohort: Cohort, hr, path: Path) -> None:
    """Hazard ratio (arm vs reference) with its 95 % CI per subgroup level, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(hr.arm.unique())
    n_rows = int(len(hr) / max(len(arms), 1))
    fig, ax = plt.subplots(figsize=(7, 0.38 * n_rows + 1.4), dpi=120)
    labels = []
    for j, arm in enumerate(arms):
        part = hr[hr.arm == arm].reset_index(drop=True)
        y = np.arange(len(part))[::-1] + 0.15 * (j - (len(arms) - 1) / 2)
        # complete separation (every event of one arm before the other's) gives a CI of 0 to inf
        ok = (np.isfinite(part.hazard_ratio.to_numpy(float)) & (part.ci_low.to_numpy(float) > 0)
              & np.isfinite(part.ci_high.to_numpy(float)))
        err = np.vstack([part.hazard_ratio - part.ci_low, part.ci_high - part.hazard_ratio])
        ax.errorbar(part.hazard_ratio[ok], y[ok], xerr=err[:, ok], fmt="s", color=f"C{j}", capsize=3,
                    label=f"{arm} vs {cohort.reference}")
        for yi, good in zip(y, ok):
            if not good:
                ax.text(1.0, yi, f"{arm}: not estimable", fontsize=6, va="center", ha="center", color=f"C{j}")
        if j == 0:
            labels = [f"{s}={lv} (n={n})" if s != "all" else f"all (n={n})"
                      for s, lv, n in zip(part.subgroup, part.level, part.patients)]
    ax.axvline(1.0, color="0.5", lw=1, ls="--")
    ax.set_xscale("log")
    ax.set_yticks(np.arange(len(labels))[::-1], labels, fontsize=7)
    ax.set_xlabel(f"hazard ratio of progression (95 % CI); < 1 favours the arm over {cohort.reference}", fontsize=8)
    ax.set_title(f"lattice-cohort {cohort.name}: hazard ratios by subgroup", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# -- command line --------------------------------------------------------------------------------------
def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="lattice-cohort", description=__doc__.split("\n\n")[0])
    ap.add_argument("overrides", nargs="*", help="extra lattice-run overrides for every patient and arm")
    ap.add_argument("--cohort", required=True, help=f"a shipped cohort ({', '.join(available())}) or a cohort file")
    ap.add_argument("--out", required=True, type=Path, help="output folder (must not hold a cohort yet)")
    ap.add_argument("--patients", type=int, default=None, help="override the number of patients")
    return ap.parse_args(argv)


def run(cohort: Cohort, runner: ArmRunner, patients, out: Path, log=print) -> dict[str, Any]:
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    outcomes = []
    for p in patients:
        for arm in cohort.arms:
            outcomes.append(runner.run(p, arm))
        log(f"  patient {p['patient'] + 1}/{len(patients)} done ({time.perf_counter() - t0:.0f} s)")
    oc = pd.DataFrame(outcomes)
    pd.DataFrame(patients).to_csv(out / "patients.csv", index=False)
    oc.drop(columns=["wall_s"]).to_csv(out / "outcomes.csv", index=False)
    curves, tests, hr, responses = analyse(cohort, patients, outcomes)
    hr.to_csv(out / "hazard_ratios.csv", index=False)
    responses.to_csv(out / "response_rates.csv", index=False)
    plot_km(cohort, curves, oc, out / "km.png")
    plot_forest(cohort, hr, out / "forest.png")
    summary = {"cohort": cohort.name, "patients": cohort.patients, "arms": cohort.arms, "reference": cohort.reference,
               "scenario": [*cohort.scenario, *runner.overrides],
               "median_ttp_days": {a: c.median for a, c in curves.items()},
               "logrank": [{"arms": [t.arm_a, t.arm_b], "statistic": t.statistic, "p_value": t.p_value} for t in tests],
               "hazard_ratio_all": hr[hr.subgroup == "all"].drop(columns=["subgroup", "level"]).to_dict("records"),
               "response_rates": responses.to_dict("records"),
               "wall_s": time.perf_counter() - t0, "simulation_s": float(oc.wall_s.sum())}
    (out / "summary.json").write_text(json.dumps(_finite(summary), indent=2, default=float))
    return summary


def _finite(obj: Any) -> Any:
    """JSON has no inf/NaN: a median not reached (inf) or an inestimable ratio (NaN) becomes null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.patients is not None and args.patients < 2:
            raise ConfigError(f"--patients={args.patients} must be at least 2")
        if args.out.exists() and (args.out / "outcomes.csv").exists():
            raise ConfigError(f"--out={args.out} already holds a cohort (outcomes.csv): choose a new folder")
        cohort = load_cohort(args.cohort, args.patients)
        runner = ArmRunner(cohort, list(args.overrides))
        patients = sample_patients(cohort)
        validate(cohort, runner, patients)
    except ConfigError as exc:
        print(f"lattice-cohort: error: {exc}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    print(f"lattice-cohort: {cohort.name}: {cohort.patients} patients x {len(cohort.arms)} arms ({', '.join(cohort.arms)})")
    summary = run(cohort, runner, patients, args.out)
    for r in summary["response_rates"]:
        print(f"{r['arm']}: median TTP {r['median_ttp_days']:.0f} days, {r['progressed']}/{r['patients']} progressed, "
              f"response rate {r['response_rate']:.0%}")
    for h in summary["hazard_ratio_all"]:
        print(f"hazard ratio {h['arm']} vs {h['reference']}: {h['hazard_ratio']:.2f} "
              f"(95 % CI {h['ci_low']:.2f}-{h['ci_high']:.2f}, p = {h['p_value']:.3g})")
    print(f"outputs in {args.out}: patients.csv, outcomes.csv, hazard_ratios.csv, response_rates.csv, km.png, forest.png")


if __name__ == "__main__":
    main()
