"""Which GPU a job runs on: round robin over the visible CUDA devices by Hydra job number.

With several GPUs and a parallel launcher (``hydra/launcher=joblib``), job ``k`` of a sweep runs
on visible device ``k mod n``, so ``n`` concurrent jobs use ``n`` different GPUs instead of all
landing on device 0. ``device=N`` in the config pins a job to visible device ``N``. "Visible"
means after ``CUDA_VISIBLE_DEVICES``: under SLURM with one GPU per task, each task sees exactly
one device and always uses it.

The choice is applied with ``cupy.cuda.Device(i).use()``, which works in a worker process that
already initialised CUDA for an earlier job (``CUDA_VISIBLE_DEVICES`` is read only once, when
CUDA starts, so changing it inside a reused joblib worker would have no effect). CuPy's current
device is per thread: call :func:`assign_device` in the thread that steps the model, before the
backend allocates anything.

Nothing here imports CuPy unless asked to count or use devices; without CuPy or a device there
is nothing to choose (the run uses a CPU backend).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

#: The variable CUDA reads at start-up to decide which GPUs a process may see.
VISIBLE_DEVICES_ENV = "CUDA_VISIBLE_DEVICES"
#: The config key that pins a job to one visible device (null: round robin).
DEVICE_KEY = "device"


class DeviceError(ValueError):
    """``device=N`` names a device that is not visible; the message says which ones are."""


@dataclass(frozen=True)
class DeviceChoice:
    """The visible device a job runs on.

    Attributes:
        index: the device's index among the visible ones (what CuPy calls device ``index``).
        count: how many devices are visible.
        reason: one line for the log, e.g. ``GPU 1 of 2 (round robin: job 5)``.
    """

    index: int
    count: int
    reason: str


def visible_device_count() -> int:
    """How many CUDA devices this process can use (0 without CuPy, a driver or a device)."""
    try:
        cupy = importlib.import_module("cupy")
    except ImportError:
        return 0
    try:
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # noqa: BLE001 — no driver / no device surfaces as various CUDA errors
        return 0


def use_device(index: int) -> None:
    """Make visible device ``index`` CuPy's current device in this thread."""
    importlib.import_module("cupy").cuda.Device(index).use()


def hydra_job_number() -> int | None:
    """The job number of the running Hydra job (0, 1, … in a sweep), None outside a Hydra job."""
    try:
        from hydra.core.hydra_config import HydraConfig

        if not HydraConfig.initialized():
            return None
        num = HydraConfig.get().job.get("num")
    except Exception:  # noqa: BLE001 — no Hydra, or a config without a job node
        return None
    return int(num) if num is not None else None


def choose_device(count: int, job_num: int | None = None, requested: int | None = None) -> DeviceChoice | None:
    """The device of one job, without touching CUDA.

    Args:
        count: number of visible devices (0: none, run on a CPU backend).
        job_num: Hydra's job number (None or 0 for a single run).
        requested: ``device=N`` from the config, or None for round robin.

    Returns:
        The choice, or None when no device is visible.

    Raises:
        DeviceError: ``requested`` is negative or not below ``count``.
    """
    if requested is not None:
        if count == 0:
            raise DeviceError(f"{DEVICE_KEY}={requested}: no CUDA device is visible; remove {DEVICE_KEY}= "
                              f"or run where a GPU is (check {VISIBLE_DEVICES_ENV} and the driver)")
        if not 0 <= int(requested) < count:
            raise DeviceError(f"{DEVICE_KEY}={requested}: only {count} CUDA device(s) are visible "
                              f"(0…{count - 1}); choose one of them or set {DEVICE_KEY}=null for round robin")
        return DeviceChoice(int(requested), count, f"GPU {int(requested)} of {count} ({DEVICE_KEY}={requested})")
    if count == 0:
        return None
    job = int(job_num or 0)
    if job < 0:
        raise DeviceError(f"job number {job} must be >= 0")
    index = job % count
    how = f"round robin: job {job}" if job_num is not None else "single run"
    return DeviceChoice(index, count, f"GPU {index} of {count} ({how})")


def assign_device(
    requested: int | None = None,
    job_num: int | None = None,
    count: Callable[[], int] = visible_device_count,
    use: Callable[[int], None] = use_device,
) -> DeviceChoice | None:
    """Choose this job's device and make it current (call before the CuPy backend is built).

    Args:
        requested: ``device=N`` from the config, None for round robin.
        job_num: Hydra's job number; None asks Hydra (:func:`hydra_job_number`).
        count, use: how to count and select devices (CuPy by default; tests pass fakes).

    Returns:
        The choice, or None when no device is visible (nothing is changed).
    """
    if job_num is None:
        job_num = hydra_job_number()
    choice = choose_device(count(), job_num, requested)
    if choice is not None:
        use(choice.index)
    return choice
