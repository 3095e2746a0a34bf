"""GPU per job, simulated without GPUs: a fake device count and a fake CuPy record the choices."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types
from collections import Counter

import pytest

from lattice import devices
from lattice.devices import DeviceError, assign_device, choose_device


def test_round_robin_over_visible_devices():
    assert [choose_device(4, job).index for job in range(10)] == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    # n concurrent jobs k…k+n-1 always land on n different devices.
    for start in range(8):
        assert {choose_device(3, job).index for job in range(start, start + 3)} == {0, 1, 2}
    # A big sweep spreads evenly.
    assert set(Counter(choose_device(4, j).index for j in range(400)).values()) == {100}
    assert choose_device(1, 7).index == 0  # SLURM: one GPU per task
    assert choose_device(2, None).reason == "GPU 0 of 2 (single run)"
    assert choose_device(0, 5) is None  # no GPU: CPU backend, nothing to choose


def test_requested_device_overrides_round_robin():
    c = choose_device(4, job_num=1, requested=3)
    assert c.index == 3 and "device=3" in c.reason


@pytest.mark.parametrize("count, requested, needle", [(2, 2, "only 2 CUDA device(s)"), (2, -1, "only 2"),
                                                     (0, 0, "no CUDA device is visible")])
def test_bad_request_is_one_line_naming_the_key(count, requested, needle):
    with pytest.raises(DeviceError) as e:
        choose_device(count, 0, requested)
    msg = str(e.value)
    assert needle in msg and msg.startswith(f"device={requested}") and "\n" not in msg


def test_assign_device_uses_the_choice():
    used = []
    choice = assign_device(job_num=5, count=lambda: 2, use=used.append)
    assert used == [1] and choice.index == 1 and choice.count == 2
    assert assign_device(job_num=5, count=lambda: 0, use=used.append) is None and used == [1]


def test_default_path_through_a_fake_cupy(monkeypatch):
    """visible_device_count/use_device talk to CuPy's runtime API; a stand-in module records them."""
    current = []

    class Device:
        def __init__(self, i):
            self.i = i

        def use(self):
            current.append(self.i)

    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=lambda: 3), Device=Device))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    assert devices.visible_device_count() == 3
    for job in range(6):
        assign_device(job_num=job)
    assert current == [0, 1, 2, 0, 1, 2]


def test_no_cupy_means_no_device(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    assert devices.visible_device_count() == 0
    assert assign_device(job_num=3) is None


def test_joblib_sweep_jobs_get_round_robin_devices(tmp_path):
    """Inside real joblib-launched Hydra jobs the job number is found and each job gets its device."""
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent("""
        import hydra
        from pathlib import Path
        from lattice.devices import assign_device

        @hydra.main(version_base="1.3", config_path=None, config_name=None)
        def task(cfg):
            used = []
            choice = assign_device(count=lambda: 3, use=used.append)
            Path(cfg.out, f"job{cfg.x}").write_text(f"{choice.index} {used[0]}")

        if __name__ == "__main__":
            task()
    """))
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run(
        [sys.executable, str(app), "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
         f"+out={out}", "+x=0,1,2,3,4", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # Hydra numbers the jobs in sweep order: x = job number here.
    got = {x: (out / f"job{x}").read_text() for x in range(5)}
    assert got == {x: f"{x % 3} {x % 3}" for x in range(5)}
