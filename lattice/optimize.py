"""``lattice-optimize``: search for the treatment schedule that delays progression longest.

    lattice-optimize --out runs/opt --trials 30 --replicates 8 \\
        experiment=competitive_release grid.shape=[50,50] duration_h=52560

Every candidate schedule is run over ``--replicates`` lattices in one model (one launch per
kernel on a GPU) at the study seed, so all candidates see the same random numbers (common random
numbers; :mod:`lattice.ensemble`). Optuna drives the search: TPE for one objective (with pruning of
hopeless candidates from partial runs), NSGA-II for several (a Pareto front). The study lives in
``<out>/study.db`` (SQLite): running the same command again resumes it up to ``--trials``.

Objectives (per candidate, over its replicates):

- ``ttp`` (maximise): median time to progression, days; a replicate that has not progressed by
  the end of the run counts as progressing at the end (censored: the median is a lower bound);
- ``dose`` (minimise): drug intensity, the cumulative dose of every drug up to progression (or
  the end) per day of that time (1 = one dose a day, e.g. always-on daily dosing);
- ``dtp`` (minimise): residual persister burden, mean DTP + DTEP cells at the end of the run.

Outputs in ``--out``: ``study.db``; ``trials.csv`` (every trial: parameters, objectives, state);
``pareto.png`` (median TTP against the second objective, or drug intensity, with the front and
the reference schedule); ``conf/treatment/<study>_best*.yaml`` (ready-to-run presets, use them
with ``treatment=<name>`` and the output's ``conf`` folder as an extra config path);
``validation.csv`` (best schedules and the reference re-run on fresh seeds); ``summary.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lattice.params import ConfigError

EXIT_CONFIG = 2
DAY_H = 24.0

#: objective name -> (direction, column in the trial table, description).
OBJECTIVES = {
    "ttp": ("maximize", "median_ttp_days", "median time to progression over the replicates (days, censored at the end)"),
    "rmst": ("maximize", "mean_ttp_days", ("restricted mean time to progression: mean over the replicates, censored "
                                           "at the end (days); separates schedules whose medians are censored")),
    "dose": ("minimize", "dose_per_day", "cumulative dose of all drugs until progression (or the end) per day"),
    "dtp": ("minimize", "residual_dtp", "mean DTP + DTEP cells at the end of the run"),
}
SAMPLERS = ("tpe", "random", "nsga2")
#: Seed offset of the fresh-seed validation (a different generator key from the study seed).
FRESH_SEED_OFFSET = 1_000_003


# -- search spaces: define-by-run functions returning dotted config keys -> values ----------------
@dataclass(frozen=True)
class SpaceContext:
    """What a search space needs to know about the base scenario."""

    drug: str                 #: the drug whose schedule is searched
    other_drugs: tuple[str, ...]
    duration_h: float
    step_h: float
    progression_factor: float
    doses_uM: dict[str, float]


def _sched(ctx: SpaceContext, key: str) -> str:
    return f"treatment.drugs.{ctx.drug}.schedule.{key}"


def space_adaptive(trial, ctx: SpaceContext) -> dict[str, Any]:
    """Zhang-style adaptive thresholds: stop below ``off_below`` × baseline, resume at ``on_above``
    (kept below the progression threshold, else therapy would resume only after progression)."""
    off = trial.suggest_float("off_below", 0.05, 0.95)
    on = trial.suggest_float("on_above_gap", 0.0, 1.0)  # fraction of the way from off_below to the threshold
    top = ctx.progression_factor - 0.01
    return {_sched(ctx, "kind"): "adaptive", _sched(ctx, "off_below"): round(off, 4),
            _sched(ctx, "on_above"): round(off + on * max(top - off, 0.0), 4)}


def space_intermittent(trial, ctx: SpaceContext) -> dict[str, Any]:
    """Fixed on/off periods (whole days) and the start day."""
    on = trial.suggest_int("on_days", 1, 120)
    off = trial.suggest_int("off_days", 0, 120)
    return {_sched(ctx, "kind"): "intermittent", _sched(ctx, "on_h"): on * DAY_H, _sched(ctx, "off_h"): off * DAY_H}


def space_schedule(trial, ctx: SpaceContext) -> dict[str, Any]:
    """The schedule kind (continuous, intermittent, adaptive) and its parameters."""
    kind = trial.suggest_categorical("kind", ["continuous", "intermittent", "adaptive"])
    if kind == "continuous":
        return {_sched(ctx, "kind"): "continuous"}
    return space_adaptive(trial, ctx) if kind == "adaptive" else space_intermittent(trial, ctx)


def space_dose(trial, ctx: SpaceContext) -> dict[str, Any]:
    """Adaptive thresholds and the dose (0.1–1 × the scenario's dose of the drug)."""
    values = space_adaptive(trial, ctx)
    scale = trial.suggest_float("dose_scale", 0.1, 1.0)
    values[f"treatment.drugs.{ctx.drug}.dose_uM"] = round(ctx.doses_uM[ctx.drug] * scale, 6)
    return values


def space_addon(trial, ctx: SpaceContext) -> dict[str, Any]:
    """Start day and dose (0.25–2 × its scenario dose) of every drug besides the searched one:
    the second drug, an epigenetic or GPX4 add-on (use with treatment=epigenetic_combination …)."""
    if not ctx.other_drugs:
        raise ConfigError("--space addon needs a treatment with a second drug (e.g. treatment=epigenetic_combination)")
    last_day = max(int(ctx.duration_h / DAY_H) - 1, 0)
    values: dict[str, Any] = {}
    for name in ctx.other_drugs:
        start = trial.suggest_int(f"{name}_start_day", 0, last_day)
        scale = trial.suggest_float(f"{name}_dose_scale", 0.25, 2.0)
        values[f"treatment.drugs.{name}.schedule.start_h"] = start * DAY_H
        values[f"treatment.drugs.{name}.dose_uM"] = round(ctx.doses_uM[name] * scale, 6)
    return values


SPACES: dict[str, Callable[[Any, SpaceContext], dict[str, Any]]] = {
    "adaptive": space_adaptive, "intermittent": space_intermittent, "schedule": space_schedule,
    "dose": space_dose, "addon": space_addon,
}


# -- evaluation ---------------------------------------------------------------------------------
def censored_ttp_days(result) -> np.ndarray:
    """Time to progression per replicate (days), censored at the end of the run."""
    ttp = result.event_array("time_to_progression_h")
    start = result.event_array("therapy_start_h")
    end = result.time_h - np.where(np.isfinite(start), start, 0.0)
    return np.where(np.isfinite(ttp), ttp, end) / DAY_H


def metrics(result) -> dict[str, float]:
    """Objective values and descriptive numbers of one ensemble result."""
    ttp_days = censored_ttp_days(result)
    doses = []
    for ev, table in zip(result.events, result.tables):
        total = 0.0
        for key in (k for k in table if k.startswith("cumulative_dose_")):
            at = ev.get(f"{key}_at_progression", math.nan)
            total += at if math.isfinite(at) else float(table[key][-1])
        doses.append(total)
    residual = [float(t.get("dtp", [0])[-1] + t.get("dtep", [0])[-1]) for t in result.tables]
    return {
        "median_ttp_days": float(np.median(ttp_days)),
        "mean_ttp_days": float(np.mean(ttp_days)),
        "progressed_fraction": float(np.mean(np.isfinite(result.event_array("time_to_progression_h")))),
        "dose_per_day": float(np.mean(np.array(doses) / np.maximum(ttp_days, 1.0))),
        "residual_dtp": float(np.mean(residual)),
        "simulated_days": result.time_h / DAY_H,
    }


def ttp_lower_bound_days(state, model, statistic=np.median) -> float:
    """Median (or ``statistic``) over replicates of the time to progression known so far (days): the
    progression time of those that progressed, the elapsed time of the others. It can only grow."""
    from lattice.processes.therapy import therapy_start_h

    prog = model.backend.asnumpy(state.progression_h).astype(float)
    start = therapy_start_h(model)
    now = state.step * model.params.step_h
    return float(statistic(np.where(prog >= 0, prog - start, now - start))) / DAY_H


@dataclass
class Setup:
    """Everything validated before anything is written."""

    cfg: Any                  #: the composed base config (DictConfig)
    overrides: list[str]
    ctx: SpaceContext
    space: str
    objectives: list[str]
    trials: int
    replicates: int
    validation_replicates: int
    seed: int
    sampler: str
    prune: bool
    report_every_days: int
    reference: str
    presets: int
    out: Path
    study_name: str
    factory: Any = None       #: lattice.ensemble.ParamsFactory of cfg


def evaluate(setup: Setup, values: dict[str, Any], seed: int, replicates: int, trial=None) -> dict[str, float]:
    """Run one candidate (``values``: dotted config keys) over ``replicates`` lattices at ``seed``."""
    from lattice.ensemble import run_ensemble

    params = setup.factory({**values, "seed": seed, "replicates": replicates})
    callback, every, pruned = None, 1, []
    if trial is not None and setup.prune and len(setup.objectives) == 1:  # Optuna prunes single-objective only
        every = max(round(setup.report_every_days * DAY_H / params.step_h), 1)

        def callback(step, state, model, tables) -> bool:
            stat = np.mean if setup.objectives[0] == "rmst" else np.median
            trial.report(ttp_lower_bound_days(state, model, stat), step)
            if trial.should_prune():
                pruned.append(step)
            return bool(pruned)

    result = run_ensemble(params, callback=callback, callback_every=every,
                          stop_when_all_progressed="dtp" not in setup.objectives)
    out = metrics(result)
    out["wall_s"] = result.wall_s
    out["pruned"] = float(bool(pruned))
    return out


def reference_values(setup: Setup) -> dict[str, Any]:
    """The reference schedule as dotted config values: the ``treatment=<reference>`` preset composed
    on the base scenario, restricted to the searched drug's schedule."""
    from lattice.ensemble import base_config

    cfg = base_config([o for o in setup.overrides if not o.startswith("treatment=")] + [f"treatment={setup.reference}"])
    drugs = cfg.treatment.drugs
    if setup.ctx.drug not in drugs:
        raise ConfigError(f"--reference {setup.reference}: the preset has no drug {setup.ctx.drug}")
    sched = drugs[setup.ctx.drug].schedule
    return {_sched(setup.ctx, k): sched[k] for k in sched}


# -- the study ----------------------------------------------------------------------------------
def make_study(setup: Setup):
    import optuna

    directions = [OBJECTIVES[o][0] for o in setup.objectives]
    if setup.sampler == "nsga2" or len(directions) > 1:
        pop = max(4, min(50, setup.trials // 4))
        sampler = optuna.samplers.NSGAIISampler(seed=setup.seed, population_size=pop)
    elif setup.sampler == "random":
        sampler = optuna.samplers.RandomSampler(seed=setup.seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=setup.seed, n_startup_trials=min(10, max(setup.trials // 3, 2)))
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=max(3, setup.trials // 6), n_warmup_steps=0)
              if setup.prune and len(directions) == 1 else optuna.pruners.NopPruner())
    return optuna.create_study(
        study_name=setup.study_name, storage=f"sqlite:///{setup.out / 'study.db'}", directions=directions,
        sampler=sampler, pruner=pruner, load_if_exists=True,
    )


def objective_fn(setup: Setup):
    import optuna

    def objective(trial):
        values = SPACES[setup.space](trial, setup.ctx)
        try:
            m = evaluate(setup, values, setup.seed, setup.replicates, trial)
        except ConfigError as exc:  # an impossible combination: tell Optuna, keep searching
            trial.set_user_attr("error", str(exc))
            raise optuna.TrialPruned() from None
        trial.set_user_attr("config", values)
        for k, v in m.items():
            if k != "wall_s":
                trial.set_user_attr(k, v)
        if m["pruned"]:
            raise optuna.TrialPruned()
        result = tuple(m[OBJECTIVES[o][1]] for o in setup.objectives)
        return result[0] if len(result) == 1 else result

    return objective


def best_trials(study, setup: Setup) -> list:
    """The best trial (one objective) or the Pareto front (several), at most ``--presets``."""
    if len(setup.objectives) == 1:
        # Ties are common when the median is censored at the end of the run: among the trials with
        # the best value, take the one that used the least drug (then the earliest).
        done = [t for t in study.trials if t.state.name == "COMPLETE" and t.values]
        if not done:
            return []
        sign = -1.0 if OBJECTIVES[setup.objectives[0]][0] == "maximize" else 1.0
        return [min(done, key=lambda t: (sign * t.values[0], t.user_attrs.get("dose_per_day", math.inf), t.number))]
    front = sorted(study.best_trials, key=lambda t: -t.values[0] if OBJECTIVES[setup.objectives[0]][0] == "maximize"
                   else t.values[0])
    return front[: setup.presets]


def nested(values: dict[str, Any], prefix: str = "treatment.") -> dict[str, Any]:
    """Dotted keys under ``prefix`` as a nested mapping (the body of a conf/treatment preset)."""
    tree: dict[str, Any] = {}
    for key, value in values.items():
        if not key.startswith(prefix):
            continue
        node = tree
        *parents, leaf = key[len(prefix):].split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return tree


def write_preset(setup: Setup, trial, name: str) -> tuple[Path, list[str]]:
    """``<out>/conf/treatment/<name>.yaml`` and the overrides it cannot carry (keys the experiment
    sets after the treatment group, e.g. a dose), found by composing it back."""
    import yaml

    from lattice.ensemble import base_config

    values = trial.user_attrs["config"]
    body = {"name": name, **nested(values)}
    objs = ", ".join(f"{o} = {v:.4g}" for o, v in zip(setup.objectives, trial.values))
    header = (f"# Found by lattice-optimize (study {setup.study_name}, trial {trial.number}): {objs}\n"
              f"# over {setup.replicates} replicates at seed {setup.seed} of: {' '.join(setup.overrides)}\n")
    conf = setup.out / "conf" / "treatment"
    conf.mkdir(parents=True, exist_ok=True)
    path = conf / f"{name}.yaml"
    path.write_text(header + yaml.safe_dump(body, sort_keys=False))
    # Compose it back the way a user would: anything the scenario overrides must be given explicitly.
    cfg = base_config([o for o in setup.overrides if not o.startswith("treatment=")]
                      + [f"treatment={name}", f"hydra.searchpath=[file://{(setup.out / 'conf').resolve()}]"])
    from omegaconf import OmegaConf

    extra = [f"{k}={v}" for k, v in values.items() if OmegaConf.select(cfg, k) != v]
    return path, extra


def trial_table(study, setup: Setup):
    """Every trial as a DataFrame: number, state, searched parameters, objectives, metrics."""
    import pandas as pd

    rows = []
    for t in study.trials:
        row: dict[str, Any] = {"trial": t.number, "state": t.state.name}
        row |= {f"param_{k}": v for k, v in t.params.items()}
        vals = t.values or []
        row |= {f"objective_{o}": (vals[i] if i < len(vals) else math.nan) for i, o in enumerate(setup.objectives)}
        row |= {k: v for k, v in t.user_attrs.items() if k not in ("config",)}
        row |= {f"set:{k}": v for k, v in t.user_attrs.get("config", {}).items()}  # the values the run used
        row["config"] = json.dumps(t.user_attrs.get("config", {}), sort_keys=True)
        rows.append(row)
    return pd.DataFrame(rows)


def pareto_mask(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-dominated points for (minimise x, maximise y)."""
    keep = np.ones(len(x), dtype=bool)
    for i in range(len(x)):
        dominated = (x <= x[i]) & (y >= y[i]) & ((x < x[i]) | (y > y[i]))
        keep[i] = not dominated.any()
    return keep


def plot_pareto(table, setup: Setup, reference: dict[str, float], path: Path) -> None:
    """Median TTP against the second objective (or drug intensity), the front, the reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    second = setup.objectives[1] if len(setup.objectives) > 1 else "dose"
    xcol, ycol = OBJECTIVES[second][1], OBJECTIVES[setup.objectives[0]][1]
    done = table[table["state"] == "COMPLETE"] if len(table) else table
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
    if len(done) and xcol in done and ycol in done:
        x, y = done[xcol].to_numpy(float), done[ycol].to_numpy(float)
        ax.scatter(x, y, s=18, c="0.6", label="trials")
        front = pareto_mask(x, y)
        order = np.argsort(x[front])
        ax.plot(x[front][order], y[front][order], "o-", color="C3", ms=5, label="Pareto front")
    ax.scatter([reference[xcol]], [reference[ycol]], marker="*", s=160, color="C0", zorder=5,
               label=f"reference ({setup.reference})")
    ax.set_xlabel(f"{xcol.replace('_', ' ')} ({OBJECTIVES[second][2]})", fontsize=7)
    ax.set_ylabel(f"{'mean' if setup.objectives[0] == 'rmst' else 'median'} time to progression (days)")
    ax.set_title(f"lattice-optimize: {setup.study_name} ({setup.replicates} replicates, seed {setup.seed})", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# -- command line -------------------------------------------------------------------------------
def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="lattice-optimize", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("overrides", nargs="*", help="the scenario, in lattice-run syntax (experiment=… key=value)")
    ap.add_argument("--out", required=True, type=Path, help="output folder (an existing study there is resumed)")
    ap.add_argument("--trials", type=int, default=30, help="total trials of the study (default 30)")
    ap.add_argument("--replicates", type=int, default=8, help="lattices per candidate (default 8)")
    ap.add_argument("--validation-replicates", type=int, default=None,
                    help="lattices per schedule in the fresh-seed check (default: 2 × --replicates; 0 skips it)")
    ap.add_argument("--space", default="adaptive", help=f"search space: {', '.join(SPACES)} (default adaptive)")
    ap.add_argument("--objectives", default="ttp", help="comma-separated: ttp or rmst first, then dose, dtp "
                    "(default ttp)")
    ap.add_argument("--drug", default=None, help="the drug whose schedule is searched (default: the first)")
    ap.add_argument("--sampler", default="tpe", help="tpe, random or nsga2 (several objectives: nsga2)")
    ap.add_argument("--no-prune", action="store_true", help="no pruning of hopeless candidates from partial runs")
    ap.add_argument("--report-every-days", type=int, default=90, help="pruning checkpoint interval (days)")
    ap.add_argument("--reference", default="adaptive", help="conf/treatment preset to compare with (default adaptive)")
    ap.add_argument("--presets", type=int, default=3, help="presets written from a Pareto front (default 3)")
    ap.add_argument("--study-name", default=None, help="Optuna study name (default: the output folder's name)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the study (common random numbers) and sampler")
    return ap.parse_args(argv)


def setup_from_args(args: argparse.Namespace) -> Setup:
    """Validate every option and the scenario; raise ConfigError (one line) on the first problem."""
    from lattice.ensemble import ParamsFactory, base_config
    from lattice.params.run import RunParams

    objectives = [o.strip() for o in args.objectives.split(",") if o.strip()]
    bad = [o for o in objectives if o not in OBJECTIVES]
    if not objectives or bad:
        raise ConfigError(f"--objectives={args.objectives}: choose from {', '.join(OBJECTIVES)}")
    if objectives[0] not in ("ttp", "rmst") or {"ttp", "rmst"} <= set(objectives):
        raise ConfigError(f"--objectives={args.objectives}: ttp or rmst must come first (not both)")
    if args.space not in SPACES:
        raise ConfigError(f"--space={args.space}: choose one of {', '.join(SPACES)}")
    if args.sampler not in SAMPLERS:
        raise ConfigError(f"--sampler={args.sampler}: choose one of {', '.join(SAMPLERS)}")
    for key in ("trials", "replicates", "report_every_days", "presets"):
        if getattr(args, key) < 1:
            raise ConfigError(f"--{key.replace('_', '-')}={getattr(args, key)} must be at least 1")
    vrep = 2 * args.replicates if args.validation_replicates is None else args.validation_replicates
    if vrep < 0:
        raise ConfigError(f"--validation-replicates={vrep} must be 0 (skip) or more")
    if not 0 <= args.seed < 2**32 - FRESH_SEED_OFFSET:
        raise ConfigError(f"--seed={args.seed} must be in [0, {2**32 - FRESH_SEED_OFFSET})")
    if args.out.exists() and not args.out.is_dir():
        raise ConfigError(f"--out={args.out} exists and is not a folder")
    cfg = base_config(args.overrides)
    from lattice.configure import params_from_config

    params: RunParams = params_from_config(cfg)
    drugs = list(params.treatment.drugs)
    if not drugs:
        raise ConfigError("treatment.drugs is empty: the scenario has no drug to schedule (choose a treatment=…)")
    drug = args.drug or drugs[0]
    if drug not in drugs:
        raise ConfigError(f"--drug={drug}: the scenario's drugs are {', '.join(drugs)}")
    ctx = SpaceContext(drug=drug, other_drugs=tuple(d for d in drugs if d != drug), duration_h=params.duration_h,
                       step_h=params.step_h, progression_factor=params.treatment.progression_factor,
                       doses_uM={k: d.dose_uM for k, d in params.treatment.drugs.items()})
    setup = Setup(cfg=cfg, overrides=list(args.overrides), ctx=ctx, space=args.space, objectives=objectives,
                  trials=args.trials, replicates=args.replicates, validation_replicates=vrep, seed=args.seed,
                  sampler=args.sampler, prune=not args.no_prune, report_every_days=args.report_every_days,
                  reference=args.reference, presets=args.presets, out=args.out,
                  study_name=args.study_name or args.out.resolve().name, factory=ParamsFactory(cfg))
    import optuna

    SPACES[setup.space](optuna.trial.FixedTrial(_space_defaults(setup)), ctx)  # e.g. addon without a 2nd drug
    reference_values(setup)  # a bad --reference fails now
    return setup


def _space_defaults(setup: Setup) -> dict[str, Any]:
    """Parameter values that satisfy every space (to validate a space before the study)."""
    values: dict[str, Any] = {"off_below": 0.5, "on_above_gap": 0.5, "on_days": 7, "off_days": 7,
                              "kind": "adaptive", "dose_scale": 1.0}
    for name in setup.ctx.other_drugs:
        values |= {f"{name}_start_day": 0, f"{name}_dose_scale": 1.0}
    return values


def run(setup: Setup, log=print) -> dict[str, Any]:
    """Run (or resume) the study and write every output; returns the summary."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    setup.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    study = make_study(setup)
    done = sum(t.state.is_finished() for t in study.trials)
    remaining = max(setup.trials - done, 0)
    log(f"lattice-optimize: study {setup.study_name}: {done} trials done, {remaining} to run "
        f"({setup.replicates} replicates each, objectives {', '.join(setup.objectives)})")

    def progress(study, trial) -> None:
        vals = ", ".join(f"{v:.4g}" for v in (trial.values or []))
        log(f"  trial {trial.number}: {trial.state.name} {vals} {trial.params}")

    if remaining:
        study.optimize(objective_fn(setup), n_trials=remaining, callbacks=[progress])
    study_s = time.perf_counter() - t0

    ref_values = reference_values(setup)
    reference = evaluate(setup, ref_values, setup.seed, setup.replicates)
    table = trial_table(study, setup)
    table.to_csv(setup.out / "trials.csv", index=False)
    plot_pareto(table, setup, reference, setup.out / "pareto.png")

    best = best_trials(study, setup)
    presets, validation = [], []
    fresh_seed = setup.seed + FRESH_SEED_OFFSET
    for i, trial in enumerate(best):
        name = f"{setup.study_name}_best" + (f"_{i + 1}" if len(best) > 1 else "")
        path, extra = write_preset(setup, trial, name)
        command = ("lattice-run --config-dir " + str((setup.out / "conf").resolve()) + " "
                   + " ".join([o for o in setup.overrides if not o.startswith("treatment=")] + [f"treatment={name}"]
                              + extra))
        presets.append({"name": name, "trial": trial.number, "path": str(path), "values": list(trial.values),
                        "extra_overrides": extra, "command": command})
        if setup.validation_replicates:
            m = evaluate(setup, trial.user_attrs["config"], fresh_seed, setup.validation_replicates)
            validation.append({"schedule": name, "trial": trial.number, **m})
    if setup.validation_replicates:
        m = evaluate(setup, ref_values, fresh_seed, setup.validation_replicates)
        validation.append({"schedule": f"reference:{setup.reference}", "trial": -1, **m})
        import pandas as pd

        pd.DataFrame(validation).drop(columns=["wall_s", "pruned"]).to_csv(setup.out / "validation.csv", index=False)
    summary = {
        "study": setup.study_name, "objectives": setup.objectives, "space": setup.space, "seed": setup.seed,
        "replicates": setup.replicates, "trials": len(study.trials),
        "complete": int((table["state"] == "COMPLETE").sum()) if len(table) else 0,
        "pruned": int((table["state"] == "PRUNED").sum()) if len(table) else 0,
        "reference": {"preset": setup.reference, **{k: v for k, v in reference.items() if k != "pruned"}},
        "presets": presets, "fresh_seed": fresh_seed, "validation": validation,
        "study_wall_s": study_s, "total_wall_s": time.perf_counter() - t0,
    }
    (setup.out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    return summary


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        setup = setup_from_args(args)
    except ConfigError as exc:
        print(f"lattice-optimize: error: {exc}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)
    summary = run(setup)
    for p in summary["presets"]:
        print(f"preset {p['name']} (trial {p['trial']}, objectives {p['values']}): {p['path']}")
        print(f"  run it: {p['command']}")
    for v in summary["validation"]:
        print(f"fresh seed {summary['fresh_seed']}: {v['schedule']}: median TTP {v['median_ttp_days']:.0f} days, "
              f"dose/day {v['dose_per_day']:.3f}, progressed {v['progressed_fraction']:.0%}")
    print(f"outputs in {setup.out}: trials.csv, pareto.png, validation.csv, summary.json, study.db, conf/treatment/")


if __name__ == "__main__":
    main()
