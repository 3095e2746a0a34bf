"""``lattice-run``: run one scenario, sweep many (``-m``), or resume a run (docs/configuration.md).

    lattice-run experiment=dtp_relapse            # the story: therapy, persisters, relapse
    lattice-run grid=3d duration_h=240 seed=3
    lattice-run -m seed='range(4)' tumour.cycle_h=16,24
    lattice-run -m hydra/launcher=joblib seed='range(8)'
    lattice-run resume=runs/2026-11-23/10-00-00   # continue a killed run (duration_h=... to extend)
    lattice-run --cfg job -p tumour               # Hydra's own flags: print, run nothing

Every command line is checked before Hydra writes anything: the config (every job of a sweep, in
one process), the run directory (an existing run is never touched), the backend, and the memory
and disk the run will need. A refused command prints one line naming the key or file and the fix,
writes nothing, and exits with status 2 (1 for a run that fails while running, 130 when interrupted).

A sweep survives its failures: an invalid combination or a failing job is recorded in its
``job.json`` (lattice.jobs) while the other jobs run; the sweep ends with one line per job that
did not finish and status 1, and relaunching the same command into the same ``hydra.sweep.dir``
runs only those jobs (docs/sweeps.md "Failed jobs and relaunching").
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from lattice.params import ConfigError

EXIT_RUN = 1
EXIT_CONFIG = 2
PROG = "lattice-run"


def _fail(message: str, code: int = EXIT_CONFIG) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(code)


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def parse_command_line(argv: list[str]) -> argparse.Namespace:
    """Hydra's own argument parser (the flags ``--cfg``, ``-p``, ``--info``, ``-cd``, ``-m`` ...),
    with its errors turned into one line."""
    from hydra import __version__ as hydra_version
    from hydra._internal.utils import get_args_parser

    from lattice import __version__

    parser = get_args_parser()
    parser.prog = PROG
    for action in parser._actions:  # --version: ours first, then the Hydra it runs on
        if action.dest == "version":
            action.version = f"dtp-lattice {__version__} (Hydra {hydra_version})"
    parser.error = lambda message: _fail(f"{message}; see {PROG} --help")  # type: ignore[method-assign]
    # Flags may come anywhere (lattice-run seed=1 -m tumour.cycle_h=12,24); Hydra is then handed
    # the flags first and the overrides after them.
    return parser.parse_intermixed_args(argv)


# -- running ------------------------------------------------------------------------------------

def execute(params, cfg_dict: dict, cfg_yaml: str, run_dir: Path, resume: bool = False, mirror_to: str | None = None):
    """Build the backend and model, run, print the summary; returns the RunResult.

    ``mirror_to``: a remote run directory (URL) that ``run_dir`` (its local staging copy) is
    uploaded to after every recording point and at the end (lattice.io.remote)."""
    from lattice.backend import make_backend
    from lattice.model import Model
    from lattice.report import print_summary
    from lattice.simulation import Simulation

    if params.backend in ("cupy", "auto"):
        from lattice.devices import DeviceError, assign_device

        try:
            choice = assign_device(params.device)
        except DeviceError as exc:
            raise ConfigError(str(exc)) from None
        if choice is not None:
            print(f"{PROG}: {choice.reason}", file=sys.stderr)
    backend = make_backend(params.backend, exact=params.exact)
    print(f"{PROG}: backend {backend.name} ({backend.reason})", file=sys.stderr)
    sim = Simulation(Model.build(params, backend), run_dir, cfg_dict, cfg_yaml)
    mirror = None
    if mirror_to is not None:
        from lattice.io.remote import Mirror

        mirror = Mirror(run_dir, mirror_to)
        if resume:
            mirror.adopt_remote()
    sim.resume() if resume else sim.start()
    if mirror is not None:
        sim.writer.after_record = mirror.sync
    try:
        result = sim.run()
        if mirror is not None:
            mirror.sync()  # the end of the run: trimmed arrays, consolidated metadata
    except KeyboardInterrupt:
        where = mirror_to or run_dir
        _fail(f"interrupted at step {sim.state.step}; complete frames are readable in {where}; "
              f"continue with: {PROG} resume={where}", 130)
    print_summary(result, params)
    if params.output.report:
        write_report(run_dir)
    return result


def write_report(run_dir: Path) -> None:
    """lattice-report's PNGs beside the run, when matplotlib (the viewer extra) is installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print(f"{PROG}: no report PNG: matplotlib is not installed (pip install 'dtp-lattice[viewer]')",
              file=sys.stderr)
        return
    from lattice.viewer.report import write_report as write_pngs

    for path in write_pngs(run_dir):
        print(f"report: {path}")


def _hydra_task(cfg) -> None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if HydraConfig.get().mode == RunMode.MULTIRUN:
        return _sweep_job(cfg)
    from omegaconf import OmegaConf

    from lattice.configure import params_from_config
    from lattice.io import OutputError, RunExistsError

    try:
        params = params_from_config(cfg)
    except ConfigError as exc:
        _fail(str(exc))
    from lattice.io.remote import is_url, stage_new

    url = params.output.dir if is_url(params.output.dir) else None
    cfg_dict = OmegaConf.to_container(cfg, resolve=True)
    try:
        # A URL: written to a local staging copy and mirrored there (lattice.io.remote).
        run_dir = stage_new(url, params.output.overwrite) if url else Path(params.output.dir or
                                                                             HydraConfig.get().runtime.output_dir)
        execute(params, cfg_dict, OmegaConf.to_yaml(cfg, resolve=True), run_dir, mirror_to=url)
    except ConfigError as exc:
        _fail(str(exc))
    except (RunExistsError, OutputError, RuntimeError) as exc:
        _fail(str(exc), EXIT_RUN)


def _sweep_job(cfg) -> None:
    """One job of a sweep (docs/sweeps.md "Failed jobs and relaunching"): skipped when an earlier
    launch finished it; otherwise run (an unfinished earlier attempt is resumed from its last
    complete frame, or started again), and recorded in ``<job dir>/job.json`` as finished or
    failed with its one-line error. A failure never stops the other jobs; an interrupt does."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from lattice.configure import explain, params_from_config
    from lattice.io.rundir import has_run, prepare_run_dir
    from lattice.jobs import FAILED, FINISHED, INTERRUPTED, JobRecord, read_job, write_job

    hc = HydraConfig.get()
    job_dir = Path(hc.runtime.output_dir)
    record = JobRecord(int(hc.job.num), list(hc.overrides.task))
    earlier = read_job(job_dir)
    if earlier is not None and earlier.finished and earlier.overrides == record.overrides:
        print(f"{PROG}: job {record.num} finished in an earlier launch: kept ({job_dir})", file=sys.stderr)
        return
    write_job(job_dir, record)
    try:
        params = params_from_config(cfg)
        run_dir = Path(params.output.dir or job_dir)
        again = earlier is not None and has_run(run_dir)  # an earlier attempt of this job left outputs
        if again and not _resumable(run_dir):
            prepare_run_dir(run_dir, overwrite=True)  # nothing to continue from: start it again
            again = False
            print(f"{PROG}: job {record.num}: the earlier attempt left no checkpoint: starting it again",
                  file=sys.stderr)
        elif again:
            print(f"{PROG}: job {record.num}: continuing the earlier attempt from its last complete frame",
                  file=sys.stderr)
        cfg_yaml = OmegaConf.to_yaml(cfg, resolve=True)
        execute(params, OmegaConf.to_container(cfg, resolve=True), cfg_yaml, run_dir, resume=again)
    except KeyboardInterrupt:
        write_job(job_dir, JobRecord(record.num, record.overrides, INTERRUPTED, "interrupted"))
        raise
    except SystemExit as exc:  # execute()'s own one-line exits (already printed)
        if exc.code == 130:
            write_job(job_dir, JobRecord(record.num, record.overrides, INTERRUPTED, "interrupted"))
            raise KeyboardInterrupt from None
        write_job(job_dir, JobRecord(record.num, record.overrides, FAILED, f"exit status {exc.code}"))
        return
    except Exception as exc:  # noqa: BLE001 - any failure of one job is recorded; the sweep goes on
        message = explain(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {_first_line(exc)}"
        write_job(job_dir, JobRecord(record.num, record.overrides, FAILED, message))
        print(f"{PROG}: job {record.num} failed: {message}", file=sys.stderr)
        return
    write_job(job_dir, JobRecord(record.num, record.overrides, FINISHED))


def _first_line(exc: BaseException) -> str:
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), "")


def _resumable(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a checkpoint a job can continue from."""
    from lattice.io import saved_step

    try:
        saved_step(run_dir)
    except Exception:  # noqa: BLE001 - unreadable or absent: not resumable
        return False
    return True


# -- checks before anything is written ----------------------------------------------------------

def _existing_parent(path: Path) -> Path:
    p = path.expanduser().absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_writable(path: Path, key: str) -> None:
    """The run directory can be created and written (its nearest existing parent is writable)."""
    parent = _existing_parent(path)
    if not parent.is_dir():
        _raise(f"{key}={path}: {parent} is a file, not a folder; choose another {key}")
    read_only_mount = bool(os.statvfs(parent).f_flag & os.ST_RDONLY)
    if read_only_mount or not os.access(parent, os.W_OK | os.X_OK):
        _raise(f"{key}={path}: cannot write in {parent} (read-only or not yours); choose another {key}")


def _raise(message: str) -> None:
    raise ConfigError(message)


def check_run_dir(run_dir: Path, params, key: str) -> None:
    """Refuse a directory that holds a run (of any replicate) unless ``output.overwrite=true``."""
    from lattice.io.rundir import has_run

    run_dir = run_dir.expanduser().absolute()
    # replicate_NNN/: ensembles written one directory per replicate (output schema 1).
    if not params.output.overwrite and any(has_run(d) for d in (run_dir, *run_dir.glob("replicate_*"))):
        raise RunExistsRefusal(
            f"{run_dir} already holds a run (run.zarr / summary.h5): pass resume={run_dir} to continue it, "
            f"output.overwrite=true to replace it, or choose another {key}")
    check_writable(run_dir, key)


class RunExistsRefusal(ConfigError):
    """The run directory holds a run: refused before anything is written (exit status 1)."""


def check_backend(params) -> None:
    """The backend asked for can run here (``backend=cupy`` without a GPU is refused up front).
    ``numpy`` always can, and ``auto`` falls back to what can, so only cupy and host are tried."""
    if params.backend in ("numpy", "auto"):
        return
    from lattice.backend import make_backend

    try:
        make_backend(params.backend, exact=params.exact)
    except RuntimeError as exc:
        raise ConfigError(f"backend={params.backend}: {exc}") from None


def check_sweep_dir(sweep_dir: Path, jobs: list[list[str]]) -> list[int]:
    """A relaunch into ``sweep_dir`` must be the same sweep: every job recorded there (job.json)
    has the overrides of the job with its number. Returns the numbers of the jobs finished earlier.

    Raises:
        RunExistsRefusal: runs without a job record (not written by a sweep of this version), or
            a job recorded with other overrides (another sweep).
    """
    from lattice.io.rundir import has_run
    from lattice.jobs import find_job_records

    if not sweep_dir.is_dir():
        return []
    records = find_job_records(sweep_dir)
    for summary in sweep_dir.rglob("summary.h5"):
        run = summary.parent if has_run(summary.parent) else None
        if run is not None and not any(run == d or d in run.parents for d in records):
            raise RunExistsRefusal(f"hydra.sweep.dir={sweep_dir} already holds runs that no sweep job recorded "
                                   f"({run}): choose another hydra.sweep.dir (each run can be continued with "
                                   f"resume=DIR)")
    jobs = [task_overrides(job) for job in jobs]
    finished = []
    for job_dir, rec in sorted(records.items(), key=lambda item: item[1].num):
        if rec.num >= len(jobs) or rec.overrides != jobs[rec.num]:
            expected = " ".join(jobs[rec.num]) if rec.num < len(jobs) else f"no job {rec.num} (this sweep has {len(jobs)})"
            raise RunExistsRefusal(f"hydra.sweep.dir={sweep_dir} holds another sweep: its job {rec.num} ({job_dir}) ran "
                                   f"'{' '.join(rec.overrides)}', this command's is '{expected}'; relaunch the same "
                                   f"command to finish that sweep, or choose another hydra.sweep.dir")
        if rec.finished:
            finished.append(rec.num)
    return finished


def task_overrides(job: list[str]) -> list[str]:
    """A job's overrides without Hydra's own (``hydra.*``, ``hydra/...``): what the job records."""
    return [o for o in job if not o.lstrip("+~").split("=", 1)[0].startswith(("hydra.", "hydra/"))]


def preflight(plan, multirun: bool) -> list[str]:
    """Check run directories, backend and resources of every valid job of ``plan``
    (:class:`lattice.configure.SweepPlan`); return warnings.

    Raises:
        ConfigError: the first refusal (RunExistsRefusal for an existing run).
    """
    from omegaconf import OmegaConf

    from lattice import resources

    warnings: list[str] = []
    cfg = plan.hydra_cfg
    if multirun:
        sweep_dir = Path(OmegaConf.select(cfg, "hydra.sweep.dir"))
        finished = check_sweep_dir(sweep_dir, plan.jobs)
        if finished:
            rest = len(plan.jobs) - len(finished)
            warnings.append(f"{len(finished)} of {len(plan.jobs)} jobs finished in an earlier launch into {sweep_dir}: "
                            f"kept; " + (f"running the other {rest}" if rest else "nothing left to run"))
        check_writable(sweep_dir, "hydra.sweep.dir")
    from lattice.io.remote import is_url, remote_has_run

    for p in plan.valid:
        if is_url(p.output.dir):  # object storage: nothing local to check (lattice.io.remote)
            if multirun:
                raise ConfigError(f"output.dir={p.output.dir}: a sweep cannot write its jobs to one URL; run "
                                  f"the jobs one by one with output.dir=URL/<name>, or drop output.dir")
            try:
                exists = remote_has_run(p.output.dir)
            except Exception as exc:  # noqa: BLE001 - no backend, no credentials, no server: one line
                raise ConfigError(f"output.dir={p.output.dir}: cannot reach it ({type(exc).__name__}: "
                                  f"{_first_line(exc)}); check the URL, the storage credentials and the endpoint "
                                  f"(AWS_ENDPOINT_URL for an S3-compatible server)") from None
            if not p.output.overwrite and exists:
                raise RunExistsRefusal(f"{p.output.dir} already holds a run: pass resume={p.output.dir} to continue "
                                       f"it, output.overwrite=true to replace it, or choose another output.dir")
            check_writable(Path(OmegaConf.select(cfg, "hydra.run.dir")), "hydra.run.dir")
            resources.check(p, None)
            continue
        if p.output.dir:
            run_dir, key = Path(p.output.dir), "output.dir"
            if not multirun:  # Hydra still writes .hydra/ into its own run directory
                check_writable(Path(OmegaConf.select(cfg, "hydra.run.dir")), "hydra.run.dir")
        elif multirun:
            run_dir, key = sweep_dir, "hydra.sweep.dir"
        else:
            run_dir, key = Path(OmegaConf.select(cfg, "hydra.run.dir")), "hydra.run.dir"
        resources.check(p, None)  # sizes first: cheap, and the likeliest refusal of a huge grid
        if not multirun or p.output.dir:
            check_run_dir(run_dir, p, key)
        est = resources.check(p, run_dir)
        warnings += [w for w in est.warnings if w not in warnings]
    valid = plan.valid
    check_backend(valid[0])
    for p in valid[1:]:
        if p.backend != valid[0].backend:
            check_backend(p)
    return warnings


# -- resume -------------------------------------------------------------------------------------

RESUME_HELP = f"""{PROG} resume=DIR [duration_h=H]
  Continue the run in DIR (a run directory, or a directory of replicate_NNN runs) from its last
  complete frame, with the config saved in it; duration_h=H extends the run to H hours in all
  (H at least the time already simulated). Nothing else can change: start a new run for that."""


def resume(args: argparse.Namespace) -> None:
    """``lattice-run resume=DIR [duration_h=H]``: continue from the last complete frame."""
    from omegaconf import OmegaConf

    from lattice.configure import explain, params_from_config
    from lattice.io import OutputError, open_run, saved_step

    if args.help:
        print(RESUME_HELP)
        return
    flags = [name for name, given in (("-m/--multirun", args.multirun), ("--cfg", args.cfg), ("--info", args.info),
                                      ("--config-dir", args.config_dir), ("--hydra-help", args.hydra_help))
             if given]
    if flags:
        _fail(f"resume= does not take {', '.join(flags)}: resume one run directory at a time "
              f"({PROG} resume=DIR [duration_h=H]; see {PROG} resume=DIR --help)")
    pairs = []
    for a in args.overrides:
        if "=" not in a:
            _fail(f"cannot parse '{a}' after resume=: write {PROG} resume=DIR [duration_h=H]")
        pairs.append(a.split("=", 1))
    given = dict(pairs)
    from lattice.io.remote import is_url, stage_resume

    url = given.pop("resume")
    url, run_dir = (url, None) if is_url(url) else (None, Path(url))
    extra = set(given) - {"duration_h"}
    if extra:
        _fail(f"cannot change {', '.join(sorted(extra))} when resuming (only duration_h may be extended); "
              f"start a new run for other changes")
    if url is not None:  # continued in a local staging copy, mirrored back (lattice.io.remote)
        try:
            run_dir = stage_resume(url)
        except Exception as exc:  # noqa: BLE001 - unreachable, missing or unreadable: nothing to resume
            _fail(f"resume={url}: cannot download the run ({type(exc).__name__}: {_first_line(exc)}); check the "
                  f"URL and the storage credentials")
    if not run_dir.is_dir():
        _fail(f"resume={run_dir}: no such run directory; give the directory of a run (it holds run.zarr)")
    from lattice.io.rundir import has_run

    # Output schema 1 wrote an ensemble as replicate_NNN/ runs; they share one config and step.
    first = run_dir if has_run(run_dir) or not (run_dir / "replicate_000").exists() else run_dir / "replicate_000"
    try:
        reader = open_run(first)
        done_step = saved_step(first)
    except Exception as exc:  # noqa: BLE001 - whatever fails to read, the directory cannot be resumed
        _fail(f"resume={run_dir}: not a resumable DTP Lattice run ({explain(exc)})")
    cfg = OmegaConf.create(reader.config)
    done_h = done_step * float(cfg.get("step_h", 1.0))
    if "duration_h" in given:
        try:
            hours = float(given["duration_h"])
        except ValueError:
            _fail(f"duration_h={given['duration_h']} is not valid: give a number of hours "
                  f"(at least the {done_h:g} h already simulated)")
        if hours < done_h:
            _fail(f"duration_h={hours:g} is shorter than the {done_h:g} h resume={run_dir} has already simulated: "
                  f"give duration_h >= {done_h:g} (a run is never cut back)")
        cfg.duration_h = hours
    cfg.resume = None
    try:
        params = params_from_config(cfg)
        check_backend(params)
    except ConfigError as exc:
        _fail(str(exc))
    try:
        execute(params, OmegaConf.to_container(cfg, resolve=True), OmegaConf.to_yaml(cfg), run_dir, resume=True,
                mirror_to=url)
    except (OutputError, RuntimeError) as exc:
        _fail(str(exc), EXIT_RUN)


# -- entry point --------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_command_line(argv)
    if any(a.startswith("resume=") for a in args.overrides):
        return resume(args)
    from lattice.configure import CONFIG_MODULE, preset_conflicts, search_path_override, validate_overrides

    shows_only = bool(args.help or args.hydra_help or args.cfg or args.info or args.shell_completion)
    if args.multirun and (args.cfg or args.info or args.shell_completion):
        shown = "--cfg" if args.cfg else "--info" if args.info else "--shell-completion"
        _fail(f"{shown} prints a config and -m runs a sweep: give one of them ({PROG} {shown} ... without -m "
              f"prints the config of one job, e.g. of the sweep's first values)")
    try:
        if args.config_dir and not Path(args.config_dir).expanduser().is_dir():
            raise ConfigError(f"--config-dir={args.config_dir}: no such folder; give a folder of your own presets "
                              f"(DIR/treatment/NAME.yaml, DIR/drug/NAME.yaml, ...)")
        overrides = search_path_override(args.overrides, args.config_dir)
        started = time.perf_counter()
        plan = validate_overrides(overrides, progress=_progress if args.multirun else None)
        checked_s = time.perf_counter() - started
        if len(plan.jobs) > 1 and not args.multirun and not shows_only:
            raise ConfigError(f"the command line gives several values ({_swept(overrides)}): add -m to run a sweep of "
                              f"every combination, or give one value")
        notes = [] if args.help or args.hydra_help else preset_conflicts(overrides)
        if not shows_only:  # --cfg, --info, --help print and write nothing: no directory to check
            notes += preflight(plan, args.multirun)
    except RunExistsRefusal as exc:
        _fail(str(exc), EXIT_RUN)
    except ConfigError as exc:
        _fail(str(exc))
    if args.multirun and not shows_only:
        print(f"{PROG}: checked the {len(plan.jobs)} jobs of the sweep in {checked_s:.1f} s"
              + (f" ({len(plan.errors)} invalid)" if plan.errors else ""), file=sys.stderr)
    for note in notes:
        _warn(note)
    if args.multirun and not shows_only:
        for n, message in plan.errors.items():
            _warn(f"job {n} ({' '.join(task_overrides(plan.jobs[n]))}) is invalid and will be recorded as failed: {message}")
        # Pin the sweep directory checked above (its ${now:} and ${run_id:} resolved once), so that the
        # summary at the end reads the same folder Hydra wrote.
        from omegaconf import OmegaConf

        sweep_dir = Path(OmegaConf.select(plan.hydra_cfg, "hydra.sweep.dir"))
        if not any(o.startswith("hydra.sweep.dir=") for o in overrides):  # the user's own is used as given
            overrides = [*overrides, f"hydra.sweep.dir={sweep_dir}"]

    import hydra

    from lattice.params import register_configs

    # Hydra reads sys.argv itself: the user's flags unchanged, overrides with the full search path.
    flags = [a for a in argv if a not in args.overrides]
    sys.argv = [sys.argv[0] if sys.argv else PROG, *flags, *overrides]
    register_configs()
    app = hydra.main(version_base="1.3", config_path=f"pkg://{CONFIG_MODULE}", config_name="config")(_hydra_task)
    if not args.multirun or shows_only:
        app()
        return
    _skip_hydra_recheck()
    full_error = bool(os.environ.get("HYDRA_FULL_ERROR"))
    os.environ["HYDRA_FULL_ERROR"] = "1"  # a launcher's failure reaches us (one line below), not Hydra's printer
    try:
        app()
    except KeyboardInterrupt:
        _fail(f"interrupted; relaunch the same command to run the jobs not finished in {sweep_dir}", 130)
    except Exception as exc:  # the launcher failed (sbatch refused, a plugin missing...)
        if full_error:
            raise
        from lattice.configure import explain

        _fail(f"the sweep could not be launched ({type(exc).__name__}: {explain(exc)}); nothing else was started "
              f"by this command; relaunch it into hydra.sweep.dir={sweep_dir} once fixed", EXIT_RUN)
    finally:
        if not full_error:
            os.environ.pop("HYDRA_FULL_ERROR", None)
    sys.exit(sweep_outcome(sweep_dir, len(plan.jobs)))


def _skip_hydra_recheck() -> None:
    """Hydra's basic sweeper (used by the basic, joblib and submitit launchers) composes every job
    again, one by one, before launching any: about 0.2-1 s a job, 201 s of silence for
    seed='range(200)'. validate_overrides() has checked each job already, more closely (the
    cross-key checks too) and in seconds, so that second pass is skipped for this process."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    BasicSweeper.validate_batch_is_legal = lambda self, batch: None  # type: ignore[method-assign]


def _progress(done: int, total: int) -> None:
    """The pre-check's progress on a terminal: one line redrawn, erased at the end (the outcome is
    printed after the checks, and a refusal stays one line)."""
    if total < 2 or not sys.stderr.isatty():
        return
    if done == total:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    elif done == 1 or done % 10 == 0:
        print(f"\r{PROG}: checking the sweep's jobs: {done}/{total}", end="", file=sys.stderr, flush=True)


def _swept(overrides: list[str]) -> str:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    return ", ".join(ov.input_line for ov in parsed if ov.is_sweep_override())


def sweep_outcome(sweep_dir: Path, n_jobs: int) -> int:
    """Print one line per job that did not finish (its recorded error) and a count; return the exit
    status: 0 when every job of the sweep finished, 1 otherwise."""
    from lattice.jobs import find_job_records

    records = find_job_records(sweep_dir)
    by_num = {rec.num: (job_dir, rec) for job_dir, rec in records.items()}
    failed = 0
    for num in range(n_jobs):
        job_dir, rec = by_num.get(num, (None, None))
        if rec is None:
            print(f"{PROG}: job {num} did not run (no job record under {sweep_dir})", file=sys.stderr)
        elif not rec.finished:
            print(f"{PROG}: job {num} {rec.status}: {rec.message or 'no message'} ({job_dir}; "
                  f"{' '.join(rec.overrides)})", file=sys.stderr)
        else:
            continue
        failed += 1
    if failed:
        print(f"{PROG}: {n_jobs - failed} of {n_jobs} jobs finished, {failed} did not: relaunch the same command "
              f"(with hydra.sweep.dir={sweep_dir}) to run only those", file=sys.stderr)
        return EXIT_RUN
    print(f"{PROG}: all {n_jobs} jobs finished in {sweep_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    main()
