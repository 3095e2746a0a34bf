"""``backend=host``: the CUDA kernels compiled for the CPU (:mod:`lattice.kernels._host`) make the
same decisions as NumPy bit for bit (labels, per-cell attributes, and fields: the host build is
always exact), through the production dispatch (:data:`lattice.backend.TWINS`).

The per-process case sets (``tests/rules_cases.py``, ``tests/immune_cases.py``, the placement
cases) run on the host build in ``test_kernels_host.py``, ``test_immune_kernels_host.py`` and
``test_placement_kernel_host.py``; here: whole runs of every experiment preset and of the default
scenario, state by state, the compiled multigrid and Philox draws, the registry's errors, the
build cache and the choice of backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lattice.kernels import _host

from lattice.backend import TWINS, Twin, TwinLoadError, make_backend
from lattice.rng import Stream, uniforms
from lattice.solvers import multigrid as mg
from tests.conftest import build_model
from tests.test_gpu_multigrid import problem

pytestmark = pytest.mark.skipif(_host.compiler() is None, reason="no C++ compiler")

ROOT = Path(__file__).resolve().parents[1]
PRESETS = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))


@pytest.fixture(scope="module")
def host():
    ok, why = _host.probe()
    if not ok:
        pytest.skip(why)
    return make_backend("host")


def test_every_twin_loads_on_the_host(host):
    for name in TWINS:
        twin = host.kernel(name)
        assert twin is not None, name
        assert host.kernel(name) is twin, "twins are loaded once per backend"
    assert make_backend("numpy").kernel("cycle") is None


# ---------------------------------------------------------------------------------------------
# Whole runs


def test_diffusion_solves_through_the_host_twin(host, monkeypatch):
    """On the host backend the diffusion process passes the compiled multigrid as ``kernel``."""
    model = build_model("grid.shape=[24,24]", backend="host")
    twin = model.backend.kernel("multigrid")
    calls = []
    solve = twin.solve
    monkeypatch.setattr(twin, "solve", lambda *a, **k: calls.append(1) or solve(*a, **k))
    model.step(model.initial_state())
    assert calls, "the diffusion process did not call the host multigrid twin"


def assert_same_states(a, b, context):
    for name, ref in a.arrays().items():
        got = b.arrays()[name]
        if ref is None:
            assert got is None, f"{context}: {name}"
            continue
        assert got.dtype == ref.dtype, f"{context}: {name} dtype"
        np.testing.assert_array_equal(got, ref, err_msg=f"{context}: {name}")


def run_both(overrides, steps):
    ref_model = build_model(*overrides, backend="numpy")
    host_model = build_model(*overrides, backend="host")
    a, b = ref_model.initial_state(), host_model.initial_state()
    assert_same_states(a, b, f"{overrides} initial")
    for step in range(steps):
        a, b = ref_model.step(a), host_model.step(b)
        assert_same_states(a, b, f"{overrides} step {step + 1}")
    return a


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_runs_identically_on_host_and_numpy(preset, host):
    """Every state array (cells, clocks, memories, timers, fields, immune layer, therapy) equal
    after every step; small lattices (3D presets at 12³), two replicates."""
    shape = "grid.shape=[12,12,12]" if preset == "spheroid" else "grid.shape=[24,24]"
    final = run_both((f"experiment={preset}", shape, "replicates=2"), 12)
    assert int((final.cells > 0).sum()) > 0


def test_default_scenario_runs_identically_on_host_and_numpy(host):
    final = run_both(("grid.shape=[40,40]",), 24)
    assert final.fields.shape[1] >= 2, "oxygen and glucose solved"


# ---------------------------------------------------------------------------------------------
# Hot paths


@pytest.mark.parametrize("boundary", ["zero_flux", "dirichlet", "periodic"])
@pytest.mark.parametrize("shape", [(37, 29), (4, 3), (25, 19, 17), (3, 12, 10), (5, 261)], ids=str)
def test_host_multigrid_is_bit_identical_to_numpy(host, shape, boundary):
    """Even/odd, single-level and 3D lattices, rows longer than one launch block (261), three
    fields with their own coefficients, per-voxel uptake and source, 1 and 4 cycles (the case set
    of tests/test_gpu_multigrid.py); plain launches and recorded graphs, a graph replayed on new
    inputs, and a read-only input."""
    twin = host.kernel("multigrid")
    c, kw = problem(shape, boundary)
    for cycles in (1, 4):
        ref = mg.solve(c, cycles=cycles, **kw)
        for graph in (False, True):
            got = mg.solve(c, cycles=cycles, kernel=twin, graph=graph, **kw)
            assert got.dtype == np.float32
            np.testing.assert_array_equal(got, ref, err_msg=f"cycles={cycles} graph={graph}")
    c2 = (c * np.float32(0.5)).astype(np.float32)
    c2.flags.writeable = False
    ref = mg.solve(c2, cycles=4, **kw)
    np.testing.assert_array_equal(mg.solve(c2, cycles=4, kernel=twin, graph=True, **kw), ref)


@pytest.mark.parametrize("boundary", ["dirichlet", "periodic"])
def test_host_multigrid_parallel_launches_are_numpy_bits(host, boundary):
    """A lattice large enough that the finest level's launches run as OpenMP loops (≥ 32768
    threads; the other cases run on the calling thread), plain and as a recorded graph."""
    twin = host.kernel("multigrid")
    c, kw = problem((40, 36, 34), boundary)
    ref = mg.solve(c, cycles=2, **kw)
    for graph in (False, True):
        np.testing.assert_array_equal(mg.solve(c, cycles=2, kernel=twin, graph=graph, **kw), ref,
                                      err_msg=f"graph={graph}")


def test_host_philox_draws_are_numpy_bits(host):
    fill = host.kernel("uniforms")
    for R, shape, step, stream, draw in [(3, (7, 9), 2**32 - 3, Stream.FATE, 1), (1, (5, 4, 3), 0, Stream.INITIAL, 0),
                                         (2, (64, 64), 17, Stream.PLACEMENT, 0)]:
        got = fill.uniforms(11, R, shape, step, stream, draw)
        ref = uniforms(11, R, shape, step, stream, draw=draw)
        for g, r in zip(got, ref, strict=True):
            assert g.shape == r.shape and g.dtype == np.float32
            np.testing.assert_array_equal(g, r)


def test_model_uniforms_use_the_compiled_draws_on_host(host, monkeypatch):
    model = build_model("grid.shape=[16,16]", "replicates=2", backend="host")
    import lattice.model

    monkeypatch.setattr(lattice.model, "uniforms", None)  # the NumPy Philox must not be called
    got = model.uniforms(Stream.CYCLE, 5)
    ref = uniforms(model.params.seed, 2, (16, 16), 5, Stream.CYCLE)
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_array_equal(g, r)


# ---------------------------------------------------------------------------------------------
# Registry, errors, cache, choice


def test_unknown_twin_is_an_error(host):
    with pytest.raises(KeyError, match="no_such_process"):
        host.kernel("no_such_process")


def test_a_twin_that_fails_to_build_names_itself_and_the_reason(monkeypatch, tmp_path):
    (tmp_path / "broken.cu").write_text('extern "C" __global__ void k(int n) { this is not C++; }\n')
    monkeypatch.setattr(_host, "KERNEL_DIR", tmp_path)
    monkeypatch.setenv("LATTICE_KERNEL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(TWINS, "broken", Twin("lattice.kernels.cycle", "Cycle", "broken"))
    backend = make_backend("host")
    with pytest.raises(TwinLoadError, match=r"(?s)host twin 'broken'.*kernels/broken\.cu.*HostBuildError.*error"):
        backend.kernel("broken")


def test_kernel_arguments_are_checked_against_the_c_signature(host):
    fn = _host.module("reference").get_function("philox_fill")
    out = np.empty((4, 8), np.float32)
    good = [np.uint32(1), np.int32(1), np.int64(8), np.uint32(0), np.uint32(2), np.uint32(0), out]
    fn((1,), (8,), tuple(good))
    for i, bad, msg in [(1, 1, "need int32"), (6, out.astype(np.float64), "need float32"),
                        (6, out[:, ::2], "not C-contiguous"), (6, out.tolist(), "not a NumPy array")]:
        args = list(good)
        args[i] = bad
        with pytest.raises(TypeError, match=msg):
            fn((1,), (8,), tuple(args))
    ro = out.copy()
    ro.flags.writeable = False
    with pytest.raises(TypeError, match="read-only"):
        fn((1,), (8,), tuple(good[:6] + [ro]))
    with pytest.raises(TypeError, match="6 arguments"):
        fn((1,), (8,), tuple(good[:6]))


def test_build_cache_is_keyed_and_reused(monkeypatch, tmp_path):
    monkeypatch.setenv("LATTICE_KERNEL_CACHE", str(tmp_path))
    first = _host.build("reference")
    assert first.parent == tmp_path and first.exists()
    stamp = first.stat().st_mtime_ns
    assert _host.build("reference") == first and first.stat().st_mtime_ns == stamp, "rebuilt a cached library"
    other = _host.build("reference", ("-DLATTICE_HOST_FTZ",))
    assert other != first, "flags are part of the key"
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".so", ".so"], "temporary files left behind"


def test_auto_prefers_host_and_says_why(monkeypatch):
    from lattice import backend

    monkeypatch.setattr(backend, "cupy_usable", lambda: (False, "CuPy is not installed"))
    monkeypatch.setattr(backend, "host_usable", lambda: (True, "host C++ compiler g++ 12.2.0 with OpenMP"))
    b = make_backend("auto")
    assert b.name == "host" and b.exact
    assert b.reason == "backend=auto: no CUDA device (CuPy is not installed); host C++ compiler g++ 12.2.0 with OpenMP"


def test_no_compiler_means_numpy_with_one_line_reason(monkeypatch):
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    _host.probe.cache_clear()
    try:
        ok, why = _host.probe()
        assert not ok and "no C++ compiler" in why
        b = make_backend("auto")
        assert b.name in ("numpy", "cupy")
        if b.name == "numpy":
            assert "no C++ compiler" in b.reason and "\n" not in b.reason
        with pytest.raises(RuntimeError, match="backend=host was requested but no C\\+\\+ compiler"):
            make_backend("host")
    finally:
        _host.probe.cache_clear()


def test_probe_describes_the_compiler():
    ok, line = _host.probe()
    assert ok, line
    assert line.startswith("host C++ compiler ") and line.endswith(" with OpenMP")


@pytest.mark.parametrize("args", [
    # the HAL adaptive-therapy model, two replicates in one run
    ["experiment=competitive_release", "grid.shape=[32,32]", "duration_h=480", "output.every_h=240", "replicates=2"],
    # the first run (make run): vessels, oxygen, glucose, a drug through the vessels, persisters
    ["experiment=dtp_relapse", "grid.shape=[48,48]", "duration_h=48", "output.every_h=24", "output.report=false"],
], ids=["competitive_release", "dtp_relapse"])
def test_lattice_run_host_writes_numpy_bytes(tmp_path, host, args):
    """``lattice-run backend=host``: every frame chunk byte-identical to ``backend=numpy`` and every
    summary table equal (only the recorded backend name and timings differ)."""
    import subprocess
    import sys

    import h5py

    args = [*args, "output.progress=false"]
    for backend in ("numpy", "host"):
        proc = subprocess.run([sys.executable, "-m", "lattice.cli", *args, f"backend={backend}",
                               f"hydra.run.dir={tmp_path / backend}"], check=False, capture_output=True, text=True,
                              timeout=300, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    assert "backend host" in proc.stderr
    chunks = sorted(p.relative_to(tmp_path / "numpy") for p in (tmp_path / "numpy" / "run.zarr").rglob("*")
                    if p.is_file() and p.name != "zarr.json")
    assert chunks, "no frame chunks written"
    for rel in chunks:
        assert (tmp_path / "host" / rel).read_bytes() == (tmp_path / "numpy" / rel).read_bytes(), str(rel)
    with h5py.File(tmp_path / "numpy" / "summary.h5") as a, h5py.File(tmp_path / "host" / "summary.h5") as b:
        names = []
        a.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
        assert names
        for name in names:
            x, y = a[name][()], b[name][()]
            if np.asarray(x).dtype.kind == "f":
                np.testing.assert_array_equal(y, x, err_msg=name)  # NaN == NaN here
            else:
                assert np.array_equal(np.asarray(y), np.asarray(x)), name
