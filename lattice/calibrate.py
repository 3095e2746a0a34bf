"""``lattice-calibrate``: approximate Bayesian computation of chosen rates against a measured curve.

    lattice-calibrate --data sharma2010_dtp_survival --out runs/cal \\
        --param treatment.drugs.primary.kill_rate_per_h=0.01:0.5:log \\
        --param tumour.entry.sensitive_per_h=1e-6:1e-3:log \\
        experiment=persister_assay grid.shape=[60,60] duration_h=216

ABC-SMC (pyABC): particles are drawn from the priors (uniform, or log-uniform with ``:log``), each
is simulated over ``--replicates`` lattices in one model (:mod:`lattice.ensemble`), the dataset's
observable is computed from the per-step table and compared with the data; the tolerance shrinks
over ``--generations`` populations. ``--data`` is a shipped dataset (:mod:`lattice.data`:
``sharma2010_dtp_survival``, ``sharma2010_dtep_emergence``, ``halle2016_ctl_killing``) or a file
of the same layout; without overrides the dataset's own scenario is run.

Observables (mean over replicates):

- ``surviving_fraction``: live tumour cells at t / at the start of the drug;
- ``dtep_fraction_of_persisters``: DTEP / (DTP + DTEP) at t (0 without persisters);
- ``kills_per_t_cell_per_day``: T-cell kills over the run / (mean T cells × days).

Distance: the root of the summed squares over the data points of (simulated − observed), on
log10 values with ``distance_scale: log``; a published range counts 0 inside it and the distance
to its nearer end outside.

Outputs in ``--out``: ``posterior.csv`` (last population: parameters in their units, weights),
``posterior_summary.csv`` (median and 90 % credible interval per parameter, prior bounds),
``posterior.png`` (marginals and the fit at the posterior medians), ``abc.db`` (pyABC history),
``conf/experiment/<name>.yaml`` (the scenario with the posterior medians, ready to run) and
``summary.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lattice.data import Dataset
from lattice.data import load as load_dataset
from lattice.params import ConfigError

EXIT_CONFIG = 2
DAY_H = 24.0
#: log10 floor for observables that can reach 0 (no survivor on a small lattice).
LOG_FLOOR = 1e-5
OBSERVABLES = ("surviving_fraction", "dtep_fraction_of_persisters", "kills_per_t_cell_per_day")
#: Credible interval reported (and used by the recovery test): 90 %.
CREDIBLE = (0.05, 0.95)


@dataclass(frozen=True)
class Prior:
    """A calibrated config key with a uniform prior on [low, high] (on log10 values when ``log``)."""

    key: str
    low: float
    high: float
    log: bool

    @property
    def name(self) -> str:
        """A column-safe name for pyABC (dots are not allowed there)."""
        return re.sub(r"[^A-Za-z0-9_]", "_", self.key)

    def to_value(self, x: float) -> float:
        return float(10.0 ** x) if self.log else float(x)

    def bounds(self) -> tuple[float, float]:
        return (math.log10(self.low), math.log10(self.high)) if self.log else (self.low, self.high)


def parse_prior(text: str) -> Prior:
    """``key=low:high`` or ``key=low:high:log``."""
    m = re.fullmatch(r"([A-Za-z_][\w.]*)=([^:]+):([^:]+)(?::(log|linear))?", text.strip())
    if not m:
        raise ConfigError(f"--param {text}: write key=low:high or key=low:high:log")
    key, lo, hi, scale = m.groups()
    try:
        low, high = float(lo), float(hi)
    except ValueError:
        raise ConfigError(f"--param {text}: low and high must be numbers") from None
    if not low < high:
        raise ConfigError(f"--param {key}: low={low:g} must be below high={high:g}")
    if scale == "log" and low <= 0:
        raise ConfigError(f"--param {key}: a log prior needs low > 0")
    return Prior(key, low, high, scale == "log")


# -- observables and distance --------------------------------------------------------------------
def observable(name: str, tables: list[dict[str, np.ndarray]], rows: list[int | None], step_h: float) -> np.ndarray:
    """The dataset's observable at each row (None: over the whole run), mean over replicates."""
    per_rep = []
    for t in tables:
        vals = []
        for row in rows:
            i = len(t["time_h"]) - 1 if row is None else min(row, len(t["time_h"]) - 1)
            if name == "surviving_fraction":
                vals.append(t["tumour_total"][i] / max(t["tumour_total"][0], 1))
            elif name == "dtep_fraction_of_persisters":
                pers = t["dtp"][i] + t["dtep"][i]
                vals.append(t["dtep"][i] / pers if pers > 0 else 0.0)
            else:  # kills_per_t_cell_per_day, up to row i
                cells = (np.asarray(t["t_cells"][: i + 1]) + np.asarray(t["exhausted_t_cells"][: i + 1])).mean()
                days = i * step_h / DAY_H
                vals.append(float(t["kills"][i]) / (cells * days) if cells > 0 and days > 0 else 0.0)
        per_rep.append(vals)
    return np.asarray(per_rep, dtype=float).mean(axis=0)


def distance(simulated: np.ndarray, data: Dataset) -> float:
    """Root summed squares of the misfit over the points (log10 with distance_scale log)."""
    def tr(x):
        return math.log10(max(x, LOG_FLOOR)) if data.distance_scale == "log" else x

    total = 0.0
    for sim, p in zip(simulated, data.points):
        if p.value is not None:
            d = tr(sim) - tr(p.value)
        else:
            d = min(tr(sim) - tr(p.low), 0.0) + max(tr(sim) - tr(p.high), 0.0)
        total += d * d
    return math.sqrt(total)


@dataclass
class Setup:
    cfg: Any
    overrides: list[str]
    data: Dataset
    priors: list[Prior]
    population: int
    generations: int
    replicates: int
    seed: int
    min_epsilon: float
    out: Path
    name: str
    step_h: float = 1.0
    rows: list[int | None] = field(default_factory=list)
    n_steps: int = 0
    factory: Any = None       #: lattice.ensemble.ParamsFactory of cfg


class Simulator:
    """pyABC model: parameters (prior space) -> {"y": observable at the data points}.

    Each call runs ``replicates`` lattices at a fresh seed drawn from NumPy's global generator
    (seeded once per calibration, so a calibration is repeatable).
    """

    def __init__(self, setup: Setup):
        self.setup = setup

    def values(self, theta: dict) -> dict[str, float]:
        return {p.key: p.to_value(theta[p.name]) for p in self.setup.priors}

    def run(self, values: dict[str, float], seed: int, replicates: int):
        from lattice.ensemble import run_ensemble

        s = self.setup
        params = s.factory({**values, "seed": seed, "replicates": replicates})
        return run_ensemble(params, n_steps=s.n_steps)

    def __call__(self, theta: dict) -> dict[str, np.ndarray]:
        s = self.setup
        seed = int(np.random.randint(0, 2**31 - 1))
        result = self.run(self.values(theta), seed, s.replicates)
        return {"y": observable(s.data.observable, result.tables, s.rows, s.step_h)}


def calibrate(setup: Setup, log=print) -> dict[str, Any]:
    """Run ABC-SMC; returns the posterior (DataFrame, weights) and the summary rows."""
    import pyabc

    np.random.seed(setup.seed)
    prior = pyabc.Distribution(**{p.name: pyabc.RV("uniform", p.bounds()[0], p.bounds()[1] - p.bounds()[0])
                                  for p in setup.priors})
    observed = {"y": np.array([p.value if p.value is not None else 0.5 * (p.low + p.high) for p in setup.data.points])}
    abc = pyabc.ABCSMC(
        Simulator(setup), prior, lambda x, _x0: distance(x["y"], setup.data),
        population_size=setup.population, sampler=pyabc.sampler.SingleCoreSampler(),
    )
    abc.new(f"sqlite:///{(setup.out / 'abc.db').resolve()}", observed)
    history = abc.run(max_nr_populations=setup.generations, minimum_epsilon=setup.min_epsilon)
    frame, weights = history.get_distribution()
    rows = []
    for p in setup.priors:
        x = frame[p.name].to_numpy(float)
        q = [weighted_quantile(x, weights, a) for a in (CREDIBLE[0], 0.5, CREDIBLE[1])]
        rows.append({"key": p.key, "median": p.to_value(q[1]), "ci_low": p.to_value(q[0]), "ci_high": p.to_value(q[2]),
                     "prior_low": p.low, "prior_high": p.high, "prior_scale": "log" if p.log else "linear"})
    pops = history.get_all_populations()
    return {"frame": frame, "weights": weights, "summary": rows, "populations": int(history.max_t + 1),
            "epsilons": [float(e) for e in pops["epsilon"].to_numpy()[1:]],
            "simulations": int(history.total_nr_simulations)}


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    """Quantile ``q`` of samples ``x`` with weights ``w`` (inverse of the weighted CDF, midpoint rule)."""
    order = np.argsort(x)
    xs, ws = x[order], np.asarray(w, float)[order]
    cdf = (np.cumsum(ws) - 0.5 * ws) / ws.sum()
    return float(np.interp(q, cdf, xs))


# -- outputs --------------------------------------------------------------------------------------
def write_outputs(setup: Setup, post: dict[str, Any], log=print) -> dict[str, Any]:
    import pandas as pd

    frame = post["frame"].copy()
    table = pd.DataFrame({p.key: [p.to_value(v) for v in frame[p.name].to_numpy(float)] for p in setup.priors})
    table["weight"] = post["weights"]
    table.to_csv(setup.out / "posterior.csv", index=False)
    pd.DataFrame(post["summary"]).to_csv(setup.out / "posterior_summary.csv", index=False)
    medians = {r["key"]: float(f"{r['median']:.6g}") for r in post["summary"]}
    fit = Simulator(setup).run(medians, setup.seed + 1, max(setup.replicates, 4))
    plot_posterior(setup, post, table, fit, setup.out / "posterior.png")
    preset, command = write_preset(setup, medians)
    simulated = observable(setup.data.observable, fit.tables, setup.rows, setup.step_h)
    return {"preset": str(preset), "command": command, "medians": medians,
            "fit_at_medians": [float(v) for v in simulated], "fit_distance": distance(simulated, setup.data)}


def plot_posterior(setup: Setup, post: dict[str, Any], table, fit, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(setup.priors)
    fig, axes = plt.subplots(1, n + 1, figsize=(3.6 * (n + 1), 3.2), dpi=110)
    for ax, p, row in zip(axes, setup.priors, post["summary"]):
        x = table[p.key].to_numpy(float)
        bins = np.logspace(math.log10(p.low), math.log10(p.high), 25) if p.log else np.linspace(p.low, p.high, 25)
        ax.hist(x, bins=bins, weights=table["weight"], color="C0", alpha=0.7)
        ax.axvline(row["median"], color="k", lw=1.5, label="median")
        ax.axvspan(row["ci_low"], row["ci_high"], color="C1", alpha=0.2, label="90 % CI")
        if p.log:
            ax.set_xscale("log")
        ax.set_xlabel(p.key, fontsize=7)
        ax.set_yticks([])
        ax.legend(fontsize=7)
    ax = axes[-1]
    name = setup.data.observable
    rows = list(range(setup.n_steps + 1))
    for t in fit.tables:
        y = observable(name, [t], rows, setup.step_h)
        ax.plot(np.asarray(t["time_h"][: len(y)]) / DAY_H, y, color="0.5", lw=0.8)
    for i, p in enumerate(setup.data.points):
        tday = p.time_days if p.time_days is not None else setup.n_steps * setup.step_h / DAY_H
        label = "data" if i == 0 else None
        if p.value is not None:
            ax.plot([tday], [p.value], "o", color="C3", ms=7, label=label)
        else:
            ax.errorbar([tday], [0.5 * (p.low + p.high)], yerr=[[0.5 * (p.high - p.low)]] * 2, fmt="o", color="C3",
                        label=label and "data (range)")
    if setup.data.distance_scale == "log":
        ax.set_yscale("log")
    ax.set_xlabel("days")
    ax.set_ylabel(name.replace("_", " "), fontsize=8)
    ax.set_title("fit at the posterior medians (replicates)", fontsize=8)
    ax.legend(fontsize=7)
    fig.suptitle(f"lattice-calibrate: {setup.data.name} ({post['populations']} populations of {setup.population})",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_preset(setup: Setup, medians: dict[str, float]) -> tuple[Path, str]:
    """``<out>/conf/experiment/<name>.yaml``: the base experiment (if any) plus the posterior medians."""
    import yaml

    base = [o.split("=", 1)[1] for o in setup.overrides if o.startswith("experiment=")]
    body: dict[str, Any] = {}
    if base:
        body["defaults"] = [base[-1], "_self_"]
    for key, value in medians.items():
        node = body
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    header = (f"# @package _global_\n# Posterior medians from lattice-calibrate against {setup.data.name} "
              f"({setup.data.source[:80]}...)\n# base: {' '.join(setup.overrides)}\n")
    conf = setup.out / "conf" / "experiment"
    conf.mkdir(parents=True, exist_ok=True)
    path = conf / f"{setup.name}.yaml"
    path.write_text(header + yaml.safe_dump(body, sort_keys=False))
    rest = [o for o in setup.overrides if not o.startswith("experiment=")]
    command = " ".join(["lattice-run", "--config-dir", str((setup.out / "conf").resolve()),
                        f"experiment={setup.name}", *rest])
    return path, command


# -- command line --------------------------------------------------------------------------------
def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="lattice-calibrate", description=__doc__.split("\n\n")[0])
    ap.add_argument("overrides", nargs="*", help="the scenario in lattice-run syntax (default: the dataset's)")
    ap.add_argument("--data", required=True, help="a shipped dataset name or a dataset YAML file")
    ap.add_argument("--param", action="append", default=[], required=True,
                    help="a calibrated key and its prior: key=low:high[:log] (repeat)")
    ap.add_argument("--out", required=True, type=Path, help="output folder (must not contain a calibration yet)")
    ap.add_argument("--population", type=int, default=100, help="particles per population (default 100)")
    ap.add_argument("--generations", type=int, default=5, help="ABC-SMC populations (default 5)")
    ap.add_argument("--replicates", type=int, default=1, help="lattices per particle (default 1)")
    ap.add_argument("--min-epsilon", type=float, default=0.0, help="stop once the tolerance is this small")
    ap.add_argument("--seed", type=int, default=0, help="seed of the particle seeds and of pyABC's sampling")
    ap.add_argument("--name", default=None, help="preset name (default: calibrated_<dataset>)")
    return ap.parse_args(argv)


def setup_from_args(args: argparse.Namespace) -> Setup:
    from lattice.configure import params_from_config
    from lattice.ensemble import ParamsFactory, base_config

    data = load_dataset(args.data)
    if data.observable not in OBSERVABLES:
        raise ConfigError(f"--data={args.data}: observable {data.observable} is not one of {', '.join(OBSERVABLES)}")
    priors = [parse_prior(t) for t in args.param]
    keys = [p.key for p in priors]
    if len(set(keys)) != len(keys):
        raise ConfigError("--param: a key is given twice")
    for key in ("population", "generations", "replicates"):
        if getattr(args, key) < 1:
            raise ConfigError(f"--{key}={getattr(args, key)} must be at least 1")
    if not 0 <= args.seed < 2**31:
        raise ConfigError(f"--seed={args.seed} must be in [0, 2^31)")
    if (args.out / "abc.db").exists():
        raise ConfigError(f"--out={args.out} already holds a calibration (abc.db): choose a new folder")
    overrides = list(args.overrides) or list(data.scenario)
    cfg = base_config(overrides)
    params = params_from_config(cfg)
    factory = ParamsFactory(cfg)
    for p in priors:  # every key exists and both ends of its prior are valid values
        for v in (p.low, p.high):
            factory({p.key: v})
    step_h = params.step_h
    rows = [None if pt.time_days is None else round(pt.time_days * DAY_H / step_h) for pt in data.points]
    n_steps = max([r for r in rows if r is not None], default=params.n_steps)
    if data.observable == "kills_per_t_cell_per_day":
        n_steps = max(n_steps, params.n_steps)
    if n_steps > params.n_steps:
        raise ConfigError(f"duration_h={params.duration_h:g} is shorter than the data ({n_steps * step_h:g} h): raise it")
    name = args.name or f"calibrated_{data.name}"
    if not re.fullmatch(r"[A-Za-z][\w-]*", name):
        raise ConfigError(f"--name={name}: use letters, digits, _ or -")
    return Setup(cfg=cfg, overrides=overrides, data=data, priors=priors, population=args.population,
                 generations=args.generations, replicates=args.replicates, seed=args.seed,
                 min_epsilon=args.min_epsilon, out=args.out, name=name, step_h=step_h, rows=rows, n_steps=n_steps,
                 factory=factory)


def run(setup: Setup, log=print) -> dict[str, Any]:
    import logging

    logging.getLogger("ABC").setLevel(logging.WARNING)
    setup.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    post = calibrate(setup, log)
    outputs = write_outputs(setup, post, log)
    summary = {"dataset": setup.data.name, "source": setup.data.source, "observable": setup.data.observable,
               "overrides": setup.overrides, "posterior": post["summary"], "populations": post["populations"],
               "epsilons": post["epsilons"], "simulations": post["simulations"], **outputs,
               "wall_s": time.perf_counter() - t0}
    (setup.out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        setup = setup_from_args(args)
    except ConfigError as exc:
        print(f"lattice-calibrate: error: {exc}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    summary = run(setup)
    for r in summary["posterior"]:
        print(f"{r['key']}: median {r['median']:.4g}, 90 % CI [{r['ci_low']:.4g}, {r['ci_high']:.4g}] "
              f"(prior {r['prior_low']:g}-{r['prior_high']:g}, {r['prior_scale']})")
    print(f"{summary['simulations']} simulations, {summary['populations']} populations, {summary['wall_s']:.0f} s")
    print(f"preset: {summary['preset']}\n  run it: {summary['command']}")
    print(f"outputs in {setup.out}: posterior.csv, posterior_summary.csv, posterior.png, summary.json, abc.db")


if __name__ == "__main__":
    main()
