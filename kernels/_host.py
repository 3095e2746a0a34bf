"""The CUDA kernels of this folder compiled for the CPU: the ``host`` backend.

Each ``<name>.cu`` is built unchanged by the system C++ compiler into a shared library, behind
:data:`PRELUDE`, which maps the CUDA keywords to C++ (``__global__``/``__device__`` vanish,
``__forceinline__`` is ``inline``, ``__umulhi`` is written in C, ``min``/``max`` for ints) and
makes ``blockIdx``/``threadIdx``/``blockDim``/``gridDim`` **thread-local** structs. For every
``extern "C" __global__`` kernel ``k`` a C entry ``host_k(grid_x, grid_y, block_x, args)`` is
generated (:data:`ENTRY_TEMPLATE`, C++ templates; no signature parsing): it runs the grid with
``#pragma omp parallel for schedule(static)`` over blocks; each OpenMP thread sets its
thread-local indices and runs the threads of its block one after the other. A launch is one
ctypes call (ctypes releases the GIL for it). Launches of fewer than 32768 threads run on the
calling thread alone (a fork/join would cost more than the work; on a machine whose cores are
busy with other processes it costs a scheduler time slice). ``OMP_NUM_THREADS`` sets the
number of threads; waiting threads sleep (``OMP_WAIT_POLICY=PASSIVE`` unless set, see
:class:`HostModule`).

Exactness: ``-ffp-contract=off -fno-fast-math`` (the host twin of ``--fmad=false``), no
flush-to-zero: every float32/float64 operation is one IEEE-rounded SSE operation, as in NumPy
and in the IEEE device build (:func:`lattice.kernels._loader.ieee_module`). That is why the host
backend is always exact: its labels *and* fields equal NumPy's bit for bit. The prelude replaces
``rintf``/``ldexpf``/``frexpf`` by inline functions with the C library's exact results (libm
calls in the inner loops of the portable math otherwise).

Correctness of the block loop: the per-voxel kernels read inputs and write only their own
outputs (no atomics, no shared memory), so any order of threads gives the device's result.
Kernels that need ``__shared__``/``__syncthreads`` (the multigrid coarsest LU factorisation and
solve) cannot run that way; they are not compiled here: ``multigrid.cu`` gives them a host body
of their own under ``#ifdef LATTICE_HOST`` (thread 0 of each block does the block's work in the
device's operation order, the other threads return), so the same launcher drives both. A new
kernel that uses ``__shared__`` without such a body fails to compile here, loudly (the prelude
defines neither ``__shared__`` nor ``__syncthreads``). ``multigrid.cu`` also gives its hot kernels
(half-sweep, residual–restriction, prolongation, set-up, output) host bodies that loop over a
row's voxels with the same operations, for speed only. A host body that does its whole block's
work in thread 0 says so with ``LATTICE_HOST_BLOCK_KERNEL(name)``: the launch then calls it once
per block instead of once per thread (a call per thread alone costs ~8 ns).

Cache: the libraries live in ``$LATTICE_KERNEL_CACHE``, else
``$XDG_CACHE_HOME/dtp-lattice/host-kernels``, else ``~/.cache/dtp-lattice/host-kernels``, one
file per hash of (source, every header of this folder, prelude, flags, ``c++ --version``). A
build writes a temporary file in that folder and renames it into place (atomic on POSIX), so
two processes never load a half-written library. The compiler is ``$CXX`` if set, else ``c++``,
else ``g++``.

:class:`HostModule` stands in for ``cupy.RawModule``: ``get_function(name)`` returns a callable
``(grid, block, args)`` that checks every argument against the kernel's C signature (NumPy
scalars of the exact C type, C-contiguous arrays of the pointed-to dtype, writable where the
kernel writes), so the launchers of :mod:`lattice.kernels` drive it with NumPy arrays.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from functools import cache
from pathlib import Path

import numpy as np

KERNEL_DIR = Path(__file__).resolve().parent

#: Compiler flags. -O3 -fopenmp for speed; -ffp-contract=off -fno-fast-math for IEEE results.
#: -fvisibility=hidden: only the ``host_*`` entries are exported, so a kernel named like a C
#: library function (placement's ``accept``) is not interposed by libc's at load time.
FLAGS = ("-std=c++17", "-O3", "-fopenmp", "-fPIC", "-shared", "-fvisibility=hidden", "-ffp-contract=off",
         "-fno-fast-math", "-Wno-unknown-pragmas")

PRELUDE = r"""
// Host build of a CUDA kernel source (lattice/kernels/_host.py).
#include <math.h>
#include <stdint.h>
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>
#include <string>
// rintf, ldexpf, frexpf as inline functions with the C library's exact results (glibc's
// s_frexpf.c; ldexpf as one correctly rounded float64 product; rintf by the 2^23 trick, ties to
// even): x86-64 without SSE4.1 otherwise calls libm for each, in the inner loop of pmath.
static inline float lattice_rintf(float x) {
    const float t = __builtin_fabsf(x);
    if (t < 8388608.0f) return __builtin_copysignf((t + 8388608.0f) - 8388608.0f, x);
    return x;
}
static inline float lattice_ldexpf(float x, int k) {
    k = k < -1022 ? -1022 : (k > 1023 ? 1023 : k);  // beyond: 0 or inf after rounding either way
    const uint64_t bits = (uint64_t)(k + 1023) << 52;
    double s;
    __builtin_memcpy(&s, &bits, 8);
    return (float)((double)x * s);
}
static inline float lattice_frexpf(float x, int* e) {
    int32_t hx;
    __builtin_memcpy(&hx, &x, 4);
    int32_t ix = hx & 0x7fffffff;
    *e = 0;
    if (ix >= 0x7f800000 || ix == 0) return x + x;
    if (ix < 0x00800000) {
        x *= 33554432.0f;  // 2^25
        __builtin_memcpy(&hx, &x, 4);
        ix = hx & 0x7fffffff;
        *e = -25;
    }
    *e += (ix >> 23) - 126;
    hx = (int32_t)(((uint32_t)hx & 0x807fffffu) | 0x3f000000u);
    __builtin_memcpy(&x, &hx, 4);
    return x;
}
#define rintf lattice_rintf
#define ldexpf lattice_ldexpf
#define frexpf lattice_frexpf
#define LATTICE_HOST 1
#define __device__
#define __host__
#define __global__
#define __forceinline__ inline
#define __launch_bounds__(...)
struct lattice_dim3 { unsigned int x, y, z; };
static thread_local lattice_dim3 blockIdx, threadIdx, blockDim, gridDim;
static inline uint32_t __umulhi(uint32_t a, uint32_t b) { return (uint32_t)(((uint64_t)a * b) >> 32); }
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
// Launches of fewer threads than this run on the calling thread: an OpenMP fork/join costs
// microseconds when the cores are free and a scheduler time slice when they are not.
#define LATTICE_PARALLEL_MIN 32768L
// A host body that does its whole block's work in thread 0 (multigrid.cu) marks itself with
// LATTICE_HOST_BLOCK_KERNEL(name, min_threads) after its definition: the launch then calls it
// once per block (threadIdx.x = 0) instead of once per thread, which saves a call per thread,
// and runs in parallel only from min_threads (grid × block) on: such bodies take ~1–2 ns per
// voxel, not the ~30 ns of a per-thread rule kernel, so a launch needs more threads' worth of
// work to pay for waking the sleeping OpenMP threads (a 200² multigrid solve of 2 fields took
// 7 ms on 2 threads with the rule kernels' threshold, 3.5 ms on one).
template <auto K> struct lattice_block_kernel {
    static constexpr bool value = false;
    static constexpr long parallel_min = LATTICE_PARALLEL_MIN;
};
#define LATTICE_HOST_BLOCK_KERNEL(k, min_threads)                \
    template <> struct lattice_block_kernel<&k> {                \
        static constexpr bool value = true;                      \
        static constexpr long parallel_min = (long)(min_threads); \
    };
"""

ENTRY_TEMPLATE = r"""
#ifdef LATTICE_HOST_FTZ
#include <xmmintrin.h>
#endif
// Signature codes: NumPy dtype strings; a pointer is '*' (written) or '&' (const) + its pointee.
template <class T> struct lattice_code;
#define LATTICE_CODE(T, s) template <> struct lattice_code<T> { static constexpr const char* c = s; };
LATTICE_CODE(int, "i4") LATTICE_CODE(unsigned int, "u4") LATTICE_CODE(long, "i8")
LATTICE_CODE(long long, "i8") LATTICE_CODE(float, "f4") LATTICE_CODE(double, "f8")
LATTICE_CODE(float*, "*f4") LATTICE_CODE(const float*, "&f4") LATTICE_CODE(double*, "*f8")
LATTICE_CODE(const double*, "&f8") LATTICE_CODE(int*, "*i4") LATTICE_CODE(const int*, "&i4")
LATTICE_CODE(uint8_t*, "*u1") LATTICE_CODE(const uint8_t*, "&u1") LATTICE_CODE(bool*, "*b1")
LATTICE_CODE(const bool*, "&b1") LATTICE_CODE(uint32_t*, "*u4") LATTICE_CODE(const uint32_t*, "&u4")

template <class F> struct lattice_kernel;
template <class... A> struct lattice_kernel<void (*)(A...)> {
    static const char* sig() {
        static const std::string s = [] { std::string t; ((t += lattice_code<A>::c, t += ","), ...); return t; }();
        return s.c_str();
    }
    template <std::size_t... I>
    static std::tuple<A...> unpack(void** args, std::index_sequence<I...>) {
        return std::tuple<A...>(*static_cast<A*>(args[I])...);
    }
    template <void (*K)(A...)>
    __attribute__((flatten)) static void run(unsigned gx, unsigned gy, unsigned bx, void** args) {
        const std::tuple<A...> a = unpack(args, std::index_sequence_for<A...>{});
        const long nb = (long)gx * gy;
#pragma omp parallel if (nb * bx >= lattice_block_kernel<K>::parallel_min)
        {
#ifdef LATTICE_HOST_FTZ  // tests only: what CUDA's -ftz=true does (MXCSR flush-to-zero, denormals-are-zero)
            const unsigned csr = _mm_getcsr();
            _mm_setcsr(csr | 0x8040u);
#endif
            gridDim = {gx, gy, 1u};
            blockDim = {bx, 1u, 1u};
#pragma omp for schedule(static)
            for (long blk = 0; blk < nb; ++blk) {
                blockIdx = {(unsigned)(blk % gx), (unsigned)(blk / gx), 0u};
                if constexpr (lattice_block_kernel<K>::value) {
                    threadIdx = {0u, 0u, 0u};
                    std::apply(K, a);
                } else {
                    for (unsigned t = 0; t < bx; ++t) {
                        threadIdx = {t, 0u, 0u};
                        std::apply(K, a);
                    }
                }
            }
#ifdef LATTICE_HOST_FTZ
            _mm_setcsr(csr);
#endif
        }
    }
};
#define LATTICE_EXPORT extern "C" __attribute__((visibility("default")))
#define LATTICE_ENTRY(k)                                                                         \
    LATTICE_EXPORT void host_##k(unsigned gx, unsigned gy, unsigned bx, void** args) {             \
        lattice_kernel<decltype(&k)>::run<&k>(gx, gy, bx, args);                                \
    }                                                                                          \
    LATTICE_EXPORT const char* host_sig_##k() { return lattice_kernel<decltype(&k)>::sig(); }
"""

#: Signature code -> (NumPy scalar type, ctypes type) of a by-value argument.
SCALARS = {
    "i4": (np.int32, ctypes.c_int32),
    "u4": (np.uint32, ctypes.c_uint32),
    "i8": (np.int64, ctypes.c_int64),
    "f4": (np.float32, ctypes.c_float),
    "f8": (np.float64, ctypes.c_double),
}
#: Signature code of a pointee -> NumPy dtype.
POINTEES = {"f4": np.float32, "f8": np.float64, "i4": np.int32, "u1": np.uint8, "b1": np.bool_, "u4": np.uint32}

_KERNEL_RE = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?(\w+)\s*\(([^)]*)\)')


class HostBuildError(RuntimeError):
    """A kernel source that the host compiler could not build (the message has its output)."""


# ---------------------------------------------------------------------------------------------
# Compiler and cache


def compiler() -> str | None:
    """The C++ compiler: ``$CXX``, else ``c++``, else ``g++`` (None when there is none)."""
    env = os.environ.get("CXX")
    if env:
        return shutil.which(env) or (env if Path(env).is_file() else None)
    return shutil.which("c++") or shutil.which("g++")


@cache
def compiler_version(cxx: str) -> str:
    """First line of ``cxx --version`` (part of the cache key and of the backend's reason)."""
    proc = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=60, check=False)
    return (proc.stdout or proc.stderr).strip().splitlines()[0] if (proc.stdout or proc.stderr) else cxx


def cache_dir() -> Path:
    """Where built libraries are kept (see the module docstring)."""
    if os.environ.get("LATTICE_KERNEL_CACHE"):
        return Path(os.environ["LATTICE_KERNEL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dtp-lattice" / "host-kernels"


def kernel_names(source: str) -> list[str]:
    """Names of the ``extern "C" __global__`` kernels of a CUDA source, in order."""
    text = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)
    text = re.sub(r"//[^\n]*", "", text)
    # dict: a kernel with a device and a host body (#ifdef LATTICE_HOST) is listed once
    return list(dict.fromkeys(m.group(1) for m in _KERNEL_RE.finditer(text)))


def param_names(source: str) -> dict[str, list[str]]:
    """``kernel -> [parameter name, ...]`` (for error messages only; types come from the build)."""
    text = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)
    text = re.sub(r"//[^\n]*", "", text)
    out = {}
    for m in _KERNEL_RE.finditer(text):
        names = []
        for p in m.group(2).split(","):
            words = re.findall(r"\w+", p)
            names.append(words[-1] if words else "?")
        out[m.group(1)] = names
    return out


def wrapper_source(name: str) -> str:
    """The C++ translation unit built for ``<name>.cu``: prelude, the source, one entry per kernel."""
    source = (KERNEL_DIR / f"{name}.cu").read_text()
    entries = "\n".join(f"LATTICE_ENTRY({k})" for k in kernel_names(source))
    return f'{PRELUDE}\n#include "{name}.cu"\n{ENTRY_TEMPLATE}\n{entries}\n'


def _key(name: str, cxx: str, flags: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    h.update(wrapper_source(name).encode())
    h.update((KERNEL_DIR / f"{name}.cu").read_bytes())
    for header in sorted(KERNEL_DIR.glob("*.cuh")):  # every header: any may be included
        h.update(header.name.encode() + b"\0" + header.read_bytes())
    h.update("\0".join(flags).encode())
    h.update(compiler_version(cxx).encode())
    return h.hexdigest()[:24]


_BUILD_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_LOCK = threading.Lock()


def _build_lock(lib: Path) -> threading.Lock:
    """One lock per library: threads of this process never build the same one twice."""
    with _LOCKS_LOCK:
        return _BUILD_LOCKS.setdefault(str(lib), threading.Lock())


def build(name: str, extra_flags: tuple[str, ...] = ()) -> Path:
    """The shared library of ``<name>.cu``, built now unless the cache has it. ``extra_flags``
    are added to :data:`FLAGS` (and to the cache key); the tests use ``-DLATTICE_HOST_FTZ``.

    Raises:
        HostBuildError: no compiler, or the compiler failed (its messages included).
    """
    cxx = compiler()
    if cxx is None:
        raise HostBuildError(f"kernel {name}: no C++ compiler found (install g++ or set CXX)")
    out_dir = cache_dir()
    flags = (*FLAGS, *extra_flags)
    lib = out_dir / f"{name}-{_key(name, cxx, flags)}.so"
    if lib.exists():
        return lib
    with _build_lock(lib):
        if lib.exists():
            return lib
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}-", suffix=".so.tmp", dir=out_dir)
        os.close(fd)
        src = Path(tmp).with_suffix(".cpp")
        try:
            src.write_text(wrapper_source(name))
            cmd = [cxx, *flags, "-I", str(KERNEL_DIR), "-x", "c++", str(src), "-o", tmp]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
            if proc.returncode:
                raise HostBuildError(f"kernel {name}: host build of {name}.cu failed "
                                     f"({' '.join(cmd)}):\n{proc.stderr[-4000:]}")
            os.replace(tmp, lib)  # atomic: readers see no library or the whole one
        finally:
            for p in (Path(tmp), src):
                p.unlink(missing_ok=True)
    return lib


def build_all(names, workers: int | None = None) -> dict[str, Exception]:
    """Build the libraries of ``names`` concurrently (compilers run in parallel; a first run
    waits for the slowest one instead of the sum). Returns the failures by name, not raised:
    each surfaces, with its message, when that kernel is loaded."""
    from concurrent.futures import ThreadPoolExecutor

    names = list(dict.fromkeys(names))
    failures: dict[str, Exception] = {}

    def one(name):
        try:
            build(name)
        except Exception as exc:  # noqa: BLE001 — reported by module(name) when it is needed
            failures[name] = exc

    with ThreadPoolExecutor(max_workers=workers or max(1, min(len(names), os.cpu_count() or 1))) as pool:
        list(pool.map(one, names))
    return failures


@cache
def probe() -> tuple[bool, str]:
    """Whether a C++ compiler with OpenMP builds and runs a tiny program here, and a one-line
    description (``"host C++ compiler g++ 12.2.0 with OpenMP"``) or why not. A success is
    remembered in the cache folder (keyed by the compiler version) so later runs skip the build."""
    cxx = compiler()
    if cxx is None:
        return False, "no C++ compiler (c++/g++, or $CXX) found"
    try:
        version = compiler_version(cxx)
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"C++ compiler {cxx} does not run ({exc})"
    short = _short_version(version)
    ok_line = f"host C++ compiler {short} with OpenMP"
    marker = cache_dir() / f"probe-{hashlib.sha256((version + ' '.join(FLAGS)).encode()).hexdigest()[:16]}.ok"
    if marker.exists():
        return True, ok_line
    code = '#include <omp.h>\nint main() { int n = 0;\n#pragma omp parallel reduction(+:n)\n n += 1;\n return n > 0 ? 0 : 1; }\n'
    with tempfile.TemporaryDirectory(prefix="lattice-probe-") as d:
        src, exe = Path(d) / "probe.cpp", Path(d) / "probe"
        src.write_text(code)
        try:
            proc = subprocess.run([cxx, "-fopenmp", str(src), "-o", str(exe)], capture_output=True, text=True,
                                  timeout=120, check=False)
            if proc.returncode:
                first = (proc.stderr.strip().splitlines() or ["?"])[0]
                return False, f"C++ compiler {short} cannot build with OpenMP ({first})"
            run = subprocess.run([str(exe)], capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            return False, f"C++ compiler {short} test build failed ({exc})"
        if run.returncode:
            return False, f"C++ compiler {short}: the OpenMP test program fails to run"
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass  # a read-only cache only costs the probe again next time
    return True, ok_line


def _short_version(line: str) -> str:
    """``"c++ (Debian 12.2.0-14) 12.2.0"`` -> ``"g++ 12.2.0"``; clang lines keep their first words."""
    m = re.search(r"(\d+\.\d+(?:\.\d+)?)\s*$", line)
    if "clang" in line.lower():
        m2 = re.search(r"clang version (\S+)", line)
        return f"clang++ {m2.group(1)}" if m2 else line
    return f"g++ {m.group(1)}" if m else line


# ---------------------------------------------------------------------------------------------
# Loaded modules


class HostFunction:
    """One kernel: ``fn(grid, block, args)`` as a ``cupy.RawKernel`` (1D or 2D grid, 1D block)."""

    def __init__(self, lib, module: str, name: str, params: list[str]):
        self.name = name
        self._entry = getattr(lib, f"host_{name}")
        self._entry.restype = None
        self._entry.argtypes = [ctypes.c_uint, ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p]
        sig = getattr(lib, f"host_sig_{name}")
        sig.restype = ctypes.c_char_p
        self.codes = [c for c in sig().decode().split(",") if c]
        self.params = params if len(params) == len(self.codes) else [f"arg{i}" for i in range(len(self.codes))]
        self.module = module
        # per parameter: (is a pointer, is written, NumPy dtype or scalar type, ctypes type)
        self._spec = [(True, code[0] == "*", np.dtype(POINTEES[code[1:]]), None) if code[0] in "*&"
                      else (False, False, SCALARS[code][0], SCALARS[code][1]) for code in self.codes]

    def _error(self, i: int, a) -> TypeError:
        """Why argument ``i`` does not fit the kernel's parameter (the slow path of :meth:`_holders`)."""
        code, pname = self.codes[i], self.params[i]
        where = f"{self.module}.cu {self.name}(#{i} {pname}: {code})"
        if code[0] in "*&":
            want = POINTEES[code[1:]]
            if not isinstance(a, np.ndarray):
                return TypeError(f"{where}: got {type(a).__name__}, not a NumPy array")
            if a.dtype != want:
                return TypeError(f"{where}: array of {a.dtype}, need {np.dtype(want)}")
            if not a.flags.c_contiguous:
                return TypeError(f"{where}: array is not C-contiguous")
            return TypeError(f"{where}: the kernel writes this array but it is read-only")
        return TypeError(f"{where}: got {type(a).__name__}, need {SCALARS[code][0].__name__}")

    def _holders(self, args) -> list:
        """One ctypes value per argument, after checking it against the kernel's C signature.
        Kept cheap (a multigrid solve makes hundreds of launches, most of them on small levels):
        no string formatting unless an argument is wrong, and an array's address through the
        buffer protocol (``a.ctypes.data`` costs microseconds) where the array exports one."""
        if len(args) != len(self.codes):
            raise TypeError(f"{self.name}: {len(args)} arguments for {len(self.codes)} parameters")
        out = []
        for i, (a, (pointer, writes, want, c_type)) in enumerate(zip(args, self._spec)):
            if pointer:
                if (not isinstance(a, np.ndarray) or a.dtype != want or not a.flags.c_contiguous
                        or (writes and not a.flags.writeable)):
                    raise self._error(i, a)
                try:
                    address = ctypes.addressof(ctypes.c_char.from_buffer(a))
                except (TypeError, ValueError):  # read-only or empty: no writable buffer to export
                    address = a.ctypes.data
                out.append(ctypes.c_void_p(address))
            else:
                if type(a) is not want:
                    raise self._error(i, a)
                out.append(c_type(a))
        return out

    def prepare(self, grid, block, args) -> tuple:
        """A checked launch, not run: ``(entry, grid_x, grid_y, block_x, argument pointers, keep)``;
        ``entry(*launch[:5])`` runs it. ``keep`` holds the argument values and the arrays, so the
        pointers stay valid as long as the tuple lives. Recorded launches replay without the checks
        (:class:`lattice.kernels.multigrid.ModuleDevice` graphs)."""
        grid = tuple(int(g) for g in grid) + (1,) * (2 - len(grid))
        if len(grid) > 2 and any(g != 1 for g in grid[2:]) or len(block) > 1 and any(int(b) != 1 for b in block[1:]):
            raise ValueError(f"{self.name}: the host launch supports grid (x, y) and block (x,) only")
        if grid[0] < 1 or grid[1] < 1 or int(block[0]) < 1:
            raise ValueError(f"{self.name}: empty launch grid={grid} block={tuple(block)}")
        holders = self._holders(args)
        ptrs = (ctypes.c_void_p * max(1, len(holders)))(*[ctypes.addressof(h) for h in holders])
        return self._entry, grid[0], grid[1], int(block[0]), ptrs, (holders, tuple(args))

    def __call__(self, grid, block, args) -> None:
        entry, gx, gy, bx, ptrs, _keep = self.prepare(grid, block, args)
        entry(gx, gy, bx, ptrs)


class HostModule:
    """``<name>.cu`` built for the host; ``get_function(kernel)`` as ``cupy.RawModule``."""

    def __init__(self, name: str, extra_flags: tuple[str, ...] = ()):
        self.name = name
        self.path = build(name, tuple(extra_flags))
        # Waiting OpenMP threads sleep instead of spinning (unless the user chose): on a machine
        # whose cores are shared with other processes a spinning waiter steals the time slice
        # of the thread it waits for, and a multigrid solve (hundreds of short parallel loops)
        # measured 10x slower. Read by libgomp when it is first loaded, i.e. here.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        self.lib = ctypes.CDLL(str(self.path))
        self.params = param_names((KERNEL_DIR / f"{name}.cu").read_text())
        self._functions: dict[str, HostFunction] = {}

    def get_function(self, kernel: str) -> HostFunction:
        if kernel not in self._functions:
            if kernel not in self.params:
                raise KeyError(f"{self.name}.cu has no kernel {kernel!r} (has {', '.join(self.params)})")
            self._functions[kernel] = HostFunction(self.lib, self.name, kernel, self.params[kernel])
        return self._functions[kernel]


@cache
def module(name: str, extra_flags: tuple[str, ...] = ()) -> HostModule:
    """The host build of ``kernels/<name>.cu``, built (or taken from the cache) at first use."""
    return HostModule(name, tuple(extra_flags))
