"""The CUDA twin of the multigrid solver (``kernels/multigrid.cu`` + ``kernels/multigrid.py``)
against the NumPy reference (:func:`lattice.solvers.multigrid.solve`).

Two ways to run the same kernel source:

- **on a GPU** (marked ``gpu``; skipped without a usable CUDA device): CuPy arrays through
  :func:`lattice.solvers.multigrid.solve`, which dispatches to the twin. ``exact=True``
  (``--fmad=false``) must give NumPy's bits; the fast build within 1e-5 relative; a solve
  replayed as a CUDA graph must equal the plain launches.
- **on the CPU** (wherever ``g++`` exists, GPU or not): ``multigrid.cu`` compiled as C++ with a
  small shim (``__global__`` → plain function, thread and block indices as thread-locals, one
  OS thread per CUDA thread for the kernels that use ``__syncthreads``), driven by the *real*
  launcher through a device object whose ``launch`` checks every argument's type against the
  kernel's signature (``np.int32`` for ``int``, ``np.int64`` for ``long long``, contiguous arrays
  of the pointee's dtype) and refuses grids CUDA would refuse. Compiled with
  ``-ffp-contract=off`` (x86-64 SSE: IEEE float32/float64, no FMA) it stands for the exact build
  and must match NumPy bit for bit. This checks the index arithmetic, the colour-split layout,
  the ghosts, the tables, the operation order and the launch sequence; not CUDA's concurrency,
  NVRTC or CuPy's argument passing, which only the GPU tests see.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lattice.backend import cupy_usable
from lattice.solvers import multigrid as mg

ROOT = Path(__file__).resolve().parents[1]
USABLE, WHY = cupy_usable()
gpu = [pytest.mark.gpu, pytest.mark.skipif(not USABLE, reason=f"no usable CUDA device: {WHY}")]
BOUNDARIES = ("zero_flux", "dirichlet", "periodic")


def problem(shape, boundary, batch=3, seed=0, uptake=True, source=True):
    """B fields with different D, λ and Dirichlet values; per-voxel uptake jumping 0 → 10 → 10³
    (a disc/ball and 2 % vessel voxels) and vessel sources; random start in [0, 38]."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.arange(n) - (n - 1) / 2 for n in shape], indexing="ij")
    r = np.sqrt(sum(g**2 for g in grids))
    u = np.where(r < min(shape) / 4, 10.0, 0.0)[None].repeat(batch, 0)
    s = np.zeros((batch, *shape))
    vessels = rng.random((batch, *shape)) < 0.02
    u[vessels] = 1e3
    s[vessels] = 1e3 * 38.0
    c = (38.0 * rng.random((batch, *shape))).astype(np.float32)
    kw = {
        "dt_min": 60.0, "spacing_um": 20.0,
        "diffusion": np.array([1e5, 3e3, 50.0, 1e5][:batch] + [1e5] * max(0, batch - 4), np.float32),
        "decay": np.array([0.1, 0.01, 1.0, 0.0][:batch] + [0.1] * max(0, batch - 4), np.float32),
        "uptake": u.astype(np.float32) if uptake else None,
        "source": s.astype(np.float32) if source else None,
        "boundary": boundary,
        "boundary_value": np.array([38.0, 5.0, 0.0, 1.0][:batch] + [2.0] * max(0, batch - 4), np.float32),
    }
    return c, kw


SHAPES = [(37, 29), (64, 48), (3, 40), (4, 3), (24, 24, 24), (25, 19, 17), (3, 12, 10), (4, 4, 4)]
SHAPE_IDS = ["37x29", "64x48", "3x40", "4x3", "24^3", "25x19x17", "3x12x10", "4^3"]


# ---------------------------------------------------------------------------------------------
# CPU emulation of the kernels

SHIM = r"""
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

struct EmuDim3 { unsigned x, y, z; };
static thread_local EmuDim3 threadIdx, blockIdx;
static EmuDim3 blockDim, gridDim;

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

static inline int min(int a, int b) { return a < b ? a : b; }

struct EmuBarrier {
    std::mutex m; std::condition_variable cv; unsigned n = 0, count = 0, gen = 0;
    void wait() {
        std::unique_lock<std::mutex> lk(m);
        unsigned g = gen;
        if (++count == n) { count = 0; ++gen; cv.notify_all(); }
        else cv.wait(lk, [&] { return gen != g; });
    }
};
static EmuBarrier emu_barrier;
static inline void __syncthreads() { emu_barrier.wait(); }

#include "multigrid.cu"

template <class T> struct Code;
template <> struct Code<int> { static constexpr char c = 'i'; };
template <> struct Code<long long> { static constexpr char c = 'l'; };
template <> struct Code<float> { static constexpr char c = 'f'; };
template <> struct Code<double> { static constexpr char c = 'd'; };
template <> struct Code<const float*> { static constexpr char c = 'F'; };
template <> struct Code<float*> { static constexpr char c = 'F'; };
template <> struct Code<const double*> { static constexpr char c = 'D'; };
template <> struct Code<double*> { static constexpr char c = 'D'; };
template <> struct Code<const int*> { static constexpr char c = 'I'; };
template <> struct Code<int*> { static constexpr char c = 'I'; };

template <class... A>
static const char* emu_sig(void (*)(A...)) {
    static const char s[] = {Code<A>::c..., 0};
    return s;
}

template <class... A, std::size_t... I>
static void emu_invoke(void (*k)(A...), void** args, std::index_sequence<I...>) {
    k(*static_cast<A*>(args[I])...);
}

template <class... A>
static void emu_launch(void (*k)(A...), int gx, int gy, int bx, bool threaded, void** args) {
    gridDim = {(unsigned)gx, (unsigned)gy, 1u};
    blockDim = {(unsigned)bx, 1u, 1u};
    for (int by = 0; by < gy; ++by)
        for (int b = 0; b < gx; ++b) {
            if (!threaded) {
                blockIdx = {(unsigned)b, (unsigned)by, 0u};
                for (int t = 0; t < bx; ++t) {
                    threadIdx = {(unsigned)t, 0u, 0u};
                    emu_invoke(k, args, std::index_sequence_for<A...>{});
                }
            } else {
                emu_barrier.n = bx;
                std::vector<std::thread> pool;
                for (int t = 0; t < bx; ++t)
                    pool.emplace_back([=] {
                        blockIdx = {(unsigned)b, (unsigned)by, 0u};
                        threadIdx = {(unsigned)t, 0u, 0u};
                        emu_invoke(k, args, std::index_sequence_for<A...>{});
                    });
                for (auto& th : pool) th.join();
            }
        }
}

#define EMU(name, threaded)                                                                    \
    extern "C" void emu_##name(int gx, int gy, int bx, void** args) {                          \
        emu_launch(name, gx, gy, bx, threaded, args);                                          \
    }                                                                                          \
    extern "C" const char* emu_sig_##name() { return emu_sig(name); }

EMU(mg_params, false)
EMU(mg_setup0, false)
EMU(mg_coarse_setup, false)
EMU(mg_lu, true)
EMU(mg_smooth, false)
EMU(mg_restrict, false)
EMU(mg_prolong, false)
EMU(mg_coarse_solve, true)
EMU(mg_output, false)
"""

# __launch_bounds__ of each kernel (a larger block would fail to launch on the GPU)
MAX_THREADS = {"mg_coarse_solve": 64}
POINTEES = {"F": np.float32, "D": np.float64, "I": np.int32}
SCALARS = {"i": (np.int32, ctypes.c_int32), "l": (np.int64, ctypes.c_int64), "f": (np.float32, ctypes.c_float),
           "d": (np.float64, ctypes.c_double)}


class EmuDevice:
    """The launcher's device interface over the C++ build of ``multigrid.cu``."""

    graphs = False
    xp = np

    def __init__(self, lib_path: Path):
        from lattice.kernels.multigrid import KERNELS

        self.lib = ctypes.CDLL(str(lib_path))
        self.sigs = {}
        for name in KERNELS:
            fn = getattr(self.lib, f"emu_sig_{name}")
            fn.restype = ctypes.c_char_p
            self.sigs[name] = fn().decode()
        self.launches: list[str] = []

    def launch(self, name, grid, block, args):
        sig = self.sigs[name]
        assert len(args) == len(sig), f"{name}: {len(args)} arguments for {len(sig)} parameters"
        holders, ptrs = [], (ctypes.c_void_p * len(args))()
        for i, (code, a) in enumerate(zip(sig, args, strict=True)):
            if code in POINTEES:
                assert isinstance(a, np.ndarray), f"{name} arg {i}: expected an array, got {type(a)}"
                assert a.dtype == POINTEES[code], f"{name} arg {i}: dtype {a.dtype}, kernel wants {code}"
                assert a.flags.c_contiguous, f"{name} arg {i}: not contiguous"
                h = ctypes.c_void_p(a.ctypes.data)
            else:
                np_type, c_type = SCALARS[code]
                assert type(a) is np_type, f"{name} arg {i}: {type(a).__name__}, kernel wants {np_type.__name__}"
                h = c_type(a.item())
            holders.append(h)
            ptrs[i] = ctypes.cast(ctypes.pointer(h), ctypes.c_void_p)
        grid = tuple(int(g) for g in grid) + (1,) * (2 - len(grid))
        bx = int(block[0])
        assert 1 <= grid[0] < 2**31 and 1 <= grid[1] <= 65535, (name, grid)
        assert 1 <= bx <= MAX_THREADS.get(name, 256), (name, bx)
        getattr(self.lib, f"emu_{name}")(ctypes.c_int(grid[0]), ctypes.c_int(grid[1]), ctypes.c_int(bx), ptrs)
        self.launches.append(name)


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    if shutil.which("g++") is None:
        pytest.skip("g++ not installed")
    d = tmp_path_factory.mktemp("mg_emu")
    (d / "shim.cpp").write_text(SHIM)
    lib = d / "libmgemu.so"
    proc = subprocess.run(
        ["g++", "-std=c++17", "-O2", "-ffp-contract=off", "-fno-fast-math", "-Wno-unknown-pragmas", "-shared",
         "-fPIC", "-pthread", "-I", str(ROOT / "kernels"), "-o", str(lib), str(d / "shim.cpp")],
        check=False, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    from lattice.kernels.multigrid import MultigridTwin

    return MultigridTwin(exact=True, device=EmuDevice(lib))


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_emulated_kernels_match_numpy_bit_for_bit(emu, shape, boundary):
    """The kernel source, run on the CPU through the real launcher, gives NumPy's bits: 2D and 3D,
    even and odd sizes, thin and single-level lattices, three fields with their own coefficients,
    per-voxel uptake and source, 1 and 4 cycles. Workspaces start as NaN, so a read of anything
    the kernels did not write would show."""
    c, kw = problem(shape, boundary)
    for cycles in (1, 4):
        ref = mg.solve(c, cycles=cycles, **kw)
        got = emu.solve(c, cycles=cycles, poison=True, **kw)
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_emulated_options(emu, boundary):
    """No uptake and no source (None), scalar coefficients broadcast to the batch, one field,
    V(1,3), zero cycles (the input back), dt = 0."""
    c, kw = problem((21, 26), boundary, batch=2, uptake=False, source=False)
    for extra in ({}, {"pre_smooth": 1, "post_smooth": 3}, {"cycles": 0}, {"dt_min": 0.0},
                  {"diffusion": 2e4, "decay": 0.05, "boundary_value": 7.0}):
        args = dict(kw, **extra)
        np.testing.assert_array_equal(emu.solve(c, poison=True, **args), mg.solve(c, **args), err_msg=str(extra))
    c1, kw1 = problem((9, 11, 7), boundary, batch=1)
    np.testing.assert_array_equal(emu.solve(c1, **kw1), mg.solve(c1, **kw1))


def test_emulated_launch_sequence(emu):
    """The launch count per solve is fixed by the plan alone (what a graph captures)."""
    c, kw = problem((64, 48), "zero_flux", batch=1)
    n_levels = len(mg.describe_hierarchy((64, 48)))
    emu.dev.launches.clear()
    emu.solve(c, cycles=2, **kw)
    per_cycle = (n_levels - 1) * (2 * 4 + 2) + 1
    assert len(emu.dev.launches) == 2 + (n_levels - 1) + 1 + 2 * per_cycle + 1
    assert emu.dev.launches[:2] == ["mg_params", "mg_setup0"] and emu.dev.launches[-1] == "mg_output"


def test_traffic_model():
    """The byte model the benchmark divides by: one V(2,2) cycle on a 3D lattice moves ~102 B
    per finest voxel on level 0 and ~1/7 of that again on the coarse levels."""
    from lattice.kernels.multigrid import traffic_bytes

    t = traffic_bytes((256, 256, 256), batch=1, cycles=4)
    per_cycle = t["cycle"] / 256**3
    assert 102 < per_cycle < 102 * (1 + 1.3 / 7)
    assert traffic_bytes((256, 256, 256), batch=4)["total"] == pytest.approx(4 * t["total"])


@pytest.mark.skipif(USABLE, reason="checks the message printed without a GPU")
def test_bench_gpu_exits_cleanly_without_gpu():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_gpu.py"), "--quick"],
                          check=False, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "no usable CUDA device" in proc.stdout


# ---------------------------------------------------------------------------------------------
# On the GPU


@pytest.fixture(scope="module")
def cp():
    import cupy

    return cupy


def to_device(cp, kw):
    return {k: cp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("cycles", [1, 4])
def test_cuda_exact_is_bit_identical(cp, shape, boundary, cycles):
    c, kw = problem(shape, boundary)
    ref = mg.solve(c, cycles=cycles, **kw)
    for graph in (False, True):
        got = mg.solve(cp.asarray(c), cycles=cycles, exact=True, graph=graph, **to_device(cp, kw))
        np.testing.assert_array_equal(cp.asnumpy(got), ref, err_msg=f"graph={graph}")


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("shape", [(64, 48), (37, 29), (24, 24, 24), (25, 19, 17)],
                         ids=["64x48", "37x29", "24^3", "25x19x17"])
@pytest.mark.parametrize("cycles", [1, 4])
def test_cuda_fast_within_1e5(cp, shape, boundary, cycles):
    c, kw = problem(shape, boundary)
    ref = mg.solve(c, cycles=cycles, **kw)
    got = cp.asnumpy(mg.solve(cp.asarray(c), cycles=cycles, exact=False, graph=False, **to_device(cp, kw)))
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6 * float(np.abs(ref).max()))


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("shape", [(96, 80), (20, 18, 22)], ids=["2d", "3d"])
def test_cuda_graph_equals_plain_launches(cp, shape, exact):
    """The graph replay is the same launches on a persistent workspace: same bits, also when it
    is replayed again with new data, and interleaved with another shape."""
    for seed in (0, 1):
        c, kw = problem(shape, "dirichlet", seed=seed)
        dev = to_device(cp, kw)
        plain = mg.solve(cp.asarray(c), exact=exact, graph=False, **dev)
        graphed = mg.solve(cp.asarray(c), exact=exact, graph=True, **dev)
        other, okw = problem((33, 31), "periodic", seed=seed)
        mg.solve(cp.asarray(other), exact=exact, graph=True, **to_device(cp, okw))
        again = mg.solve(cp.asarray(c), exact=exact, graph=True, **dev)
        np.testing.assert_array_equal(cp.asnumpy(graphed), cp.asnumpy(plain))
        np.testing.assert_array_equal(cp.asnumpy(again), cp.asnumpy(plain))
    from lattice.kernels.multigrid import load

    assert load(exact).graph_failures == 0


def test_cuda_options_and_batching(cp):
    """None uptake/source, scalar coefficients, V(1,3), zero cycles; a field's result does not
    depend on the other fields of the batch (B = 1 vs B = 5)."""
    c, kw = problem((45, 38), "zero_flux", batch=5, uptake=False, source=False)
    for extra in ({}, {"pre_smooth": 1, "post_smooth": 3}, {"cycles": 0},
                  {"diffusion": 2e4, "decay": 0.05}):
        args = dict(kw, **extra)
        got = mg.solve(cp.asarray(c), exact=True, **to_device(cp, args))
        np.testing.assert_array_equal(cp.asnumpy(got), mg.solve(c, **args), err_msg=str(extra))
    c, kw = problem((45, 38, 9), "dirichlet", batch=5)
    full = cp.asnumpy(mg.solve(cp.asarray(c), exact=True, **to_device(cp, kw)))
    one = {k: (v[2:3] if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    single = cp.asnumpy(mg.solve(cp.asarray(c[2:3]), exact=True, **to_device(cp, one)))
    np.testing.assert_array_equal(single[0], full[2])


def test_cuda_large_batch_and_lattice(cp):
    """A 160³ lattice with 2 fields and 64 replicates of 64² (B = 64 in the grid's y dimension):
    fast build within 1e-5 of NumPy. (Offsets are 64-bit throughout; 512³ × 4 runs in the
    benchmark.)"""
    for shape, batch in (((160, 160, 160), 2), ((64, 64), 64)):
        c, kw = problem(shape, "dirichlet", batch=batch)
        ref = mg.solve(c, cycles=2, **kw)
        got = cp.asnumpy(mg.solve(cp.asarray(c), cycles=2, **to_device(cp, kw)))
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6 * float(np.abs(ref).max()))


def test_cuda_no_host_sync_in_solve(cp):
    """A solve only enqueues work: it returns while a long computation queued before it is
    still running (plain launches and graph replay)."""
    c, kw = problem((48, 40, 36), "dirichlet", batch=2)
    dev, cc = to_device(cp, kw), cp.asarray(c)
    for graph in (False, True):
        mg.solve(cc, graph=graph, **dev)  # warm-up: compile, plan, workspace, capture
    cp.cuda.Device().synchronize()
    a = cp.ones((8192, 8192), dtype=cp.float32)
    for graph in (False, True):
        for _ in range(8):
            a = a @ a * cp.float32(1 / 8192)  # ~0.1 s of device work
        busy = cp.cuda.Event()
        busy.record()
        out = mg.solve(cc, graph=graph, **dev)
        assert not busy.done, "solve waited for the device"
        cp.cuda.Device().synchronize()
        assert out.shape == c.shape


for _name in [n for n in dir() if n.startswith("test_cuda_")]:
    for _mark in gpu:
        globals()[_name] = _mark(globals()[_name])
