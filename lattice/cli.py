"""``lattice-run``: run one scenario, sweep many (``-m``), or resume a run.

    lattice-run                                   # default: small 2D tumour with vessels, 30 days
    lattice-run grid=3d duration_h=240 seed=3
    lattice-run -m seed='range(4)' tumour.cycle_h=16,24
    lattice-run -m hydra/launcher=joblib seed='range(8)'
    lattice-run resume=runs/2026-11-23/10-00-00   # continue a killed run (duration_h=... to extend)

Every command line is validated before anything is written: a bad key or value prints one
line naming it and what is allowed, and exits with status 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from lattice.configure import CONFIG_MODULE, explain, params_from_config, validate_overrides
from lattice.params import ConfigError

EXIT_CONFIG = 2
EXIT_RUN = 1


def _fail(message: str, code: int) -> None:
    print(f"lattice-run: error: {message}", file=sys.stderr)
    sys.exit(code)


def execute(params, cfg_dict: dict, cfg_yaml: str, run_dir: Path, resume: bool = False):
    """Build the backend and model, run, print the summary; returns the RunResult."""
    from lattice.backend import make_backend
    from lattice.model import Model
    from lattice.report import print_summary
    from lattice.simulation import Simulation

    backend = make_backend(params.backend, exact=params.exact)
    print(f"lattice-run: backend {backend.name} ({backend.reason})", file=sys.stderr)
    sim = Simulation(Model.build(params, backend), run_dir, cfg_dict, cfg_yaml)
    sim.resume() if resume else sim.start()
    try:
        result = sim.run()
    except KeyboardInterrupt:
        _fail(f"interrupted at step {sim.state.step}; complete frames are readable in {run_dir}; "
              f"continue with: lattice-run resume={run_dir}", 130)
    print_summary(result, params)
    return result


def _hydra_task(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    from lattice.io import OutputError, RunExistsError

    try:
        params = params_from_config(cfg)
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG)
    run_dir = Path(params.output.dir or HydraConfig.get().runtime.output_dir)
    cfg_dict = OmegaConf.to_container(cfg, resolve=True)
    try:
        execute(params, cfg_dict, OmegaConf.to_yaml(cfg, resolve=True), run_dir)
    except (RunExistsError, OutputError, RuntimeError) as exc:
        _fail(str(exc), EXIT_RUN)


def resume(argv: list[str]) -> None:
    """``lattice-run resume=DIR [duration_h=H]``: continue from the last complete frame."""
    from lattice.io import OutputError, open_run

    args = dict(a.split("=", 1) for a in argv)
    run_dir = Path(args.pop("resume"))
    extra = set(args) - {"duration_h"}
    if extra:
        _fail(f"cannot change {', '.join(sorted(extra))} when resuming (only duration_h may be extended)",
              EXIT_CONFIG)
    first = run_dir / "replicate_000" if (run_dir / "replicate_000").exists() else run_dir
    try:
        reader = open_run(first)
    except Exception as exc:
        _fail(f"resume={run_dir}: not a readable DTP Lattice run ({explain(exc)})", EXIT_CONFIG)
    cfg = OmegaConf.create(reader.config)
    if "duration_h" in args:
        cfg.duration_h = float(args["duration_h"])
    cfg.resume = None
    try:
        params = params_from_config(cfg)
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG)
    try:
        execute(params, OmegaConf.to_container(cfg, resolve=True), OmegaConf.to_yaml(cfg), run_dir, resume=True)
    except (OutputError, RuntimeError) as exc:
        _fail(str(exc), EXIT_RUN)


def main() -> None:
    argv = sys.argv[1:]
    if any(a.startswith("resume=") for a in argv):
        return resume(argv)
    overrides = [a for a in argv if not a.startswith("-")]
    try:
        validate_overrides(overrides)
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG)

    import hydra

    from lattice.params import register_configs

    register_configs()
    app = hydra.main(version_base="1.3", config_path=f"pkg://{CONFIG_MODULE}", config_name="config")(_hydra_task)
    app()


if __name__ == "__main__":
    main()
