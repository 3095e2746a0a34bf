"""CuPy launcher for ``multigrid.cu``: the CUDA twin of :func:`lattice.solvers.multigrid.solve`.

Same contract and same arithmetic as the NumPy reference (its docstring, "Operation order"):
compiled with ``exact=True`` (``--fmad=false``) the result is bit-identical to NumPy; the fast
build differs by FMA contraction only (within 1e-5 relative).

Design
------
- **Plan** (cached per ``(shape, boundary)``, module-wide): the hierarchy's host tables come from
  the NumPy reference's own plan (:func:`lattice.solvers.multigrid.hierarchy_plan`), so all
  backends share one source of geometry; per level they are uploaded once as small 1D tables (face
  factors, float64 diagonal geometry, restriction and prolongation weights and indices) plus
  the coarsest level's dense off-diagonal geometry.
- **Workspace** per ``(plan, B)``: the colour-split level arrays (see ``multigrid.cu``): the
  iterate in two colour arrays with two buffers each (ping-pong half-sweeps), ``f``, ``a0`` and
  the restriction weights ``w`` (coarse levels only; level 0 recomputes ``w`` from ``a0``), the
  coarse LU (float64) and the per-field coefficients. No per-voxel ``1/diagonal`` is stored: it
  is recomputed in each half-sweep from ``a0`` and the per-axis geometry (same operations as
  NumPy's set-up, so the same bits).
- **A solve** is a fixed sequence of launches, decided on the host from the plan alone (no
  data-dependent control, no host sync, no host↔device copies):
  ``mg_params`` (α, λ, 2g per field), ``mg_setup0`` (natural input → split level 0),
  ``mg_coarse_setup`` × (levels − 1), ``mg_lu``, then per V-cycle and level
  ``mg_smooth`` × 2·pre, ``mg_restrict`` (residual, weighting, restriction, zeroing of the coarse
  iterate: one kernel), recursion, ``mg_prolong``, ``mg_smooth`` × 2·post, ``mg_coarse_solve``
  on the coarsest level, and finally ``mg_output`` (split → natural, a new array).
- **CUDA graphs** (launch overhead): everything between ``mg_setup0`` and ``mg_output``
  depends only on the workspace, so it is captured once per
  ``(shape, boundary, B, cycles, pre, post)`` on a non-default stream (docs/pitfalls.md: CuPy) into a
  graph over a persistent workspace and replayed on the caller's stream; the kernels that read
  the caller's arrays (``mg_params``, ``mg_setup0``) or write the result (``mg_output``) run
  outside it, so the graph adds no copies. A 4-cycle V(2,2) solve is ~10 launches per level
  and cycle (~250 on a 256³ lattice), each costing ~10–20 µs of Python/CuPy host time, more
  than the device needs for all levels of a lattice up to about 256³; coarse levels are
  latency-bound at every size. So ``graph=None`` (default) replays a graph whenever
  ``B × voxels ≤ GRAPH_AUTO_VOXELS`` (2²⁴: 256³ × 1 field, 1024² × 16, 256² × 256 fields) — well
  beyond the "< 64k voxels per field" of a small lattice, because without added copies the only
  cost is that the workspace of each of the last ``GRAPH_CACHE`` (4) keys stays allocated
  (≈ 20 bytes per voxel per field, ≤ ~0.35 GB each). ``graph=True`` forces it at any size,
  ``graph=False`` never uses it. ``scripts/bench_gpu.py`` times both to tune the threshold.
  A capture that fails (an old driver) warns once and falls back to plain launches.

The ``device`` argument of :class:`MultigridTwin` abstracts the launches (array module +
``launch(name, grid, block, args)``) so that the same launcher can drive a CPU emulation of the
kernels in the tests (``tests/test_gpu_multigrid.py``). ``mod`` (a module with
``get_function``, e.g. the host build of :mod:`lattice.kernels._host`) gives a
:class:`ModuleDevice` over NumPy arrays: that is the host backend's multigrid (the kernels'
host bodies in ``multigrid.cu``; always exact, since the host build never contracts
multiply–adds). Its "graphs" are recorded launches replayed as bare C calls, automatic up to
``ModuleDevice.graph_auto_voxels`` (2²¹) voxels.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

KERNELS = ("mg_params", "mg_setup0", "mg_coarse_setup", "mg_lu", "mg_smooth", "mg_restrict", "mg_prolong",
           "mg_coarse_solve", "mg_output")
BOUNDARY_CODES = {"zero_flux": 0, "dirichlet": 1, "periodic": 2}
GRAPH_AUTO_VOXELS = 1 << 24
GRAPH_CACHE = 4
MAX_COARSE = 64

i32, i64, f32, f64 = np.int32, np.int64, np.float32, np.float64


# ---------------------------------------------------------------------------------------------
# Plan: device tables per (shape, boundary)


@dataclass
class _Lev:
    shape: tuple[int, ...]
    nz: int
    ny: int
    nx: int
    hx: int
    cs: int  # slots per colour per field: nz·ny·hx
    uniform: bool
    scale: float
    gt: object  # float32 [gl_z gh_z gl_y gh_y gl_x gh_x]
    wt: object  # float64 [weff_z weff_y weff_x]
    rt: object = None  # float32 restriction onto the next level [a_z b_z a_y b_y a_x b_x] (coarse sizes)
    pt: object = None  # int32 prolongation from the next level [p_z q_z p_y q_y p_x q_x] (fine sizes)
    pw: object = None  # float32 [wp_z wq_z wp_y wq_y wp_x wq_x]


@dataclass
class _DevPlan:
    shape: tuple[int, ...]
    boundary: str
    ndim: int
    levels: list[_Lev]
    n_coarse: int
    w64: object  # (n,) float64 diagonal geometry of the coarsest level
    G: object  # (n, n) float64 off-diagonal geometry of the coarsest level


def _zyx(ndim: int, tables: list[np.ndarray], dummy) -> list[np.ndarray]:
    """Per-axis tables in (z, y, x) order; 2D lattices get a one-entry dummy z table."""
    return list(tables) if ndim == 3 else [np.asarray([dummy]), *tables]


def host_tables(shape: tuple[int, ...], boundary: str) -> dict:
    """The hierarchy's tables in the kernels' layout, as NumPy arrays (also used by tests)."""
    from lattice.solvers import multigrid as mg

    plan = mg.hierarchy_plan(shape, boundary)
    ndim = len(shape)
    levels = []
    for lev, geo in enumerate(plan.geometry):
        dims = (1, *geo.shape) if ndim == 2 else geo.shape
        nz, ny, nx = (int(n) for n in dims)
        gl = _zyx(ndim, [ax.gl.astype(np.float32) for ax in geo.axes], np.float32(0))
        gh = _zyx(ndim, [ax.gh.astype(np.float32) for ax in geo.axes], np.float32(0))
        we = _zyx(ndim, [ax.weff.astype(np.float64) for ax in geo.axes], 0.0)
        if geo.uniform and any(np.unique(ax.weff[1:-1]).size > 1 for ax in geo.axes):
            raise AssertionError("a uniform level with unequal interior weff (the host half-sweep hoists W)")
        entry = {
            "shape": tuple(int(n) for n in geo.shape), "dims": (nz, ny, nx), "hx": (nx + 1) // 2,
            "uniform": bool(geo.uniform), "scale": float(geo.scale),
            "gt": np.concatenate([np.concatenate([a, b]) for a, b in zip(gl, gh, strict=True)]).astype(np.float32),
            "wt": np.concatenate(we).astype(np.float64),
        }
        if geo.restrict is not None:
            ra = _zyx(ndim, [a for a, _ in geo.restrict], np.float32(1))
            rb = _zyx(ndim, [b for _, b in geo.restrict], np.float32(0))
            entry["rt"] = np.concatenate([np.concatenate([a, b]) for a, b in zip(ra, rb, strict=True)]).astype(
                np.float32)
            for p, q, _, _ in geo.prolong:  # the host body of mg_prolong relies on this layout
                x = np.arange(p.size)
                if not (np.array_equal(p, x // 2 + 1) and np.array_equal(q, np.where(x % 2, p + 1, p - 1))):
                    raise AssertionError("prolongation indices are not parent x/2 + 1, neighbour p ∓ 1")
            pp = _zyx(ndim, [p for p, _, _, _ in geo.prolong], 1)
            qq = _zyx(ndim, [q for _, q, _, _ in geo.prolong], 1)
            wp = _zyx(ndim, [w for _, _, w, _ in geo.prolong], np.float32(1))
            wq = _zyx(ndim, [w for _, _, _, w in geo.prolong], np.float32(0))
            entry["pt"] = np.concatenate([np.concatenate([p, q]) for p, q in zip(pp, qq, strict=True)]).astype(
                np.int32)
            entry["pw"] = np.concatenate([np.concatenate([p, q]) for p, q in zip(wp, wq, strict=True)]).astype(
                np.float32)
        levels.append(entry)
    n = int(np.prod(plan.geometry[-1].shape))
    if n > MAX_COARSE:
        raise AssertionError(f"coarsest level has {n} > {MAX_COARSE} unknowns")
    G = np.zeros((n, n), dtype=np.float64)
    rows, cols, g = plan.coarse_off
    G[np.asarray(rows), np.asarray(cols)] = np.asarray(g)
    return {"levels": levels, "n_coarse": n, "w64": np.asarray(plan.coarse_w64, dtype=np.float64), "G": G}


_PLANS: OrderedDict = OrderedDict()


def _dev_plan(xp, shape: tuple[int, ...], boundary: str) -> _DevPlan:
    key = (xp.__name__, shape, boundary)
    if key in _PLANS:
        _PLANS.move_to_end(key)
        return _PLANS[key]
    t = host_tables(shape, boundary)
    levels = []
    for e in t["levels"]:
        nz, ny, nx = e["dims"]
        levels.append(_Lev(
            shape=e["shape"], nz=nz, ny=ny, nx=nx, hx=e["hx"], cs=nz * ny * e["hx"], uniform=e["uniform"],
            scale=e["scale"], gt=xp.asarray(e["gt"]), wt=xp.asarray(e["wt"]),
            rt=xp.asarray(e["rt"]) if "rt" in e else None, pt=xp.asarray(e["pt"]) if "pt" in e else None,
            pw=xp.asarray(e["pw"]) if "pw" in e else None,
        ))
    plan = _DevPlan(shape, boundary, len(shape), levels, t["n_coarse"], xp.asarray(t["w64"]),
                    xp.asarray(t["G"].reshape(-1)))
    _PLANS[key] = plan
    while len(_PLANS) > 16:
        _PLANS.popitem(last=False)
    return plan


# ---------------------------------------------------------------------------------------------
# Byte model (for benchmarks)


def traffic_bytes(shape: tuple[int, ...], batch: int = 1, cycles: int = 4, pre_smooth: int = 2,
                  post_smooth: int = 2, uptake: bool = True, source: bool = True,
                  boundary: str = "zero_flux") -> dict[str, float]:
    """Bytes one solve must move through device memory with this design (each array a kernel
    touches read or written once; float32 = 4 bytes; tables and coefficients neglected).

    Per level of ``V`` voxels (per field): a half-sweep reads its colour's ``c``, ``f``, ``a0``
    and the other colour's ``c`` and writes its colour's ``c``: ``5 × 2 = 10 B/voxel``; the
    fused residual–restriction reads ``c``, ``f``, ``a0`` (and ``w`` below the finest level) and
    writes the coarse ``f`` and zero iterate and reads the coarse ``w``; prolongation reads and
    writes ``c`` and reads the coarse iterate. Set-up: the input ``c`` (+ ``u``, ``s``) read and
    ``c``, ``f``, ``a0`` written; each coarse set-up reads ``num``, ``den`` (level 0: ``a0``) and
    writes ``num``, ``den``, ``a0``; output reads ``c`` and writes the result.

    Returns a dict with ``total`` bytes, ``per_voxel`` (per field voxel of the finest level),
    ``cycle`` (one V-cycle) and ``setup`` bytes.
    """
    from lattice.solvers.multigrid import describe_hierarchy

    sizes = [int(np.prod(s)) for s in describe_hierarchy(tuple(shape), boundary)]
    last = len(sizes) - 1
    sweeps = pre_smooth + post_smooth
    cycle = 0.0
    for lev, v in enumerate(sizes):
        if lev == last:
            cycle += (12.0 if lev == 0 else 4.0) * v + 4.0 * v  # reads f (level 0: c, f, a0), writes c
            continue
        vc = sizes[lev + 1]
        cycle += sweeps * 2 * 10.0 * v
        cycle += (12.0 + (4.0 if lev > 0 else 0.0)) * v + 12.0 * vc  # residual–restriction
        cycle += 8.0 * v + 4.0 * vc  # prolongation
    setup = (4.0 + 4.0 * uptake + 4.0 * source + 12.0) * sizes[0]
    for lev in range(last):
        setup += (4.0 if lev == 0 else 8.0) * sizes[lev] + 12.0 * sizes[lev + 1]
    output = 8.0 * sizes[0]
    total = batch * (setup + cycles * cycle + output)
    return {"total": total, "per_voxel": total / (batch * sizes[0]), "cycle": batch * cycle,
            "setup": batch * setup}


# ---------------------------------------------------------------------------------------------
# Devices


class CupyDevice:
    """Launches the RawModule's kernels on the current CuPy stream."""

    graphs = True

    def __init__(self, exact: bool):
        import cupy
        from lattice.kernels import _loader

        self.xp = cupy
        # CuPy appends -ftz=true to every RawModule compile, so subnormals would flush to zero on
        # the device and not in NumPy: the exact build goes through _loader.ieee_module (NVRTC with
        # --fmad=false -ftz=false -prec-div=true) where that exists.
        ieee = getattr(_loader, "ieee_module", None)
        self.mod = ieee("multigrid") if (exact and ieee is not None) else _loader.module("multigrid", exact)
        self.fns = {name: self.mod.get_function(name) for name in KERNELS}
        self._stream = None

    def launch(self, name: str, grid: tuple, block: tuple, args: tuple) -> None:
        self.fns[name](grid, block, args)

    def capture(self, record):
        """A CUDA graph of the launches ``record()`` makes (captured on a non-default stream)."""
        import cupy

        if self._stream is None:
            self._stream = cupy.cuda.Stream(non_blocking=True)
        stream = self._stream
        with stream:
            stream.begin_capture()
            try:
                record()
            finally:
                graph = stream.end_capture()
        return graph

    def replay(self, graph) -> None:
        graph.launch()  # on the current stream, after the set-up kernels it follows


class ModuleDevice:
    """Launches the kernels of a module-like object (``get_function``) on NumPy arrays: the
    host build (:func:`lattice.kernels._host.module`).

    Graphs, host style: a capture records the launches (arguments checked and converted once)
    instead of running them, and a replay runs the recorded C entries one after the other. A
    V(2,2) solve is ~10 launches per level and cycle and each checked launch costs ~10–20 µs of
    Python, more than a small level's work (a 200² solve of 2 fields: ~5 ms of ~10 ms); a
    replayed launch costs ~1 µs. Needs a module whose functions have ``prepare``; others launch
    plainly."""

    xp = np
    #: Automatic graphs up to this many voxels (B × lattice): beyond ~128³ the launches' Python
    #: cost is < 1 % of a solve, and a graph keeps its workspace (~20 B per voxel) allocated.
    graph_auto_voxels = 1 << 21
    warm_before_capture = False  # nothing to load lazily on the host

    def __init__(self, mod):
        self.mod = mod
        self.fns = {name: mod.get_function(name) for name in KERNELS}
        self.graphs = all(hasattr(fn, "prepare") for fn in self.fns.values())
        self._recording = None

    def launch(self, name: str, grid: tuple, block: tuple, args: tuple) -> None:
        if self._recording is not None:
            self._recording.append(self.fns[name].prepare(grid, block, args))
        else:
            self.fns[name](grid, block, args)

    def capture(self, record):
        """The launches ``record()`` makes, checked and converted, not run."""
        self._recording = []
        try:
            record()
            return tuple(self._recording)
        finally:
            self._recording = None

    def replay(self, graph) -> None:
        for entry, gx, gy, bx, ptrs, _keep in graph:
            entry(gx, gy, bx, ptrs)


# ---------------------------------------------------------------------------------------------
# Workspace and solve


@dataclass
class _Work:
    batch: int
    c: list  # per level (2 colours, 2 buffers, B·cs) float32
    f: list  # per level (B·2·cs) float32
    a0: list
    w: list  # per level (B·2·cs) float32; None on level 0
    lu: object  # (B·n·n) float64
    alpha32: object
    alpha64: object
    lam: object
    two_g: object
    cur: list = field(default_factory=list)  # per level [buffer of colour 0, buffer of colour 1]

    @classmethod
    def allocate(cls, xp, plan: _DevPlan, batch: int, poison: bool = False):
        def new(shape, dtype):
            return xp.full(shape, np.nan, dtype=dtype) if poison else xp.empty(shape, dtype=dtype)

        levels = plan.levels
        return cls(
            batch=batch,
            c=[new((2, 2, batch * lv.cs), np.float32) for lv in levels],
            f=[new(2 * batch * lv.cs, np.float32) for lv in levels],
            a0=[new(2 * batch * lv.cs, np.float32) for lv in levels],
            w=[None] + [new(2 * batch * lv.cs, np.float32) for lv in levels[1:]],
            lu=new(batch * plan.n_coarse * plan.n_coarse, np.float64),
            alpha32=new(batch, np.float32), alpha64=new(batch, np.float64), lam=new(batch, np.float32),
            two_g=new(batch, np.float32),
        )

    def cview(self, lev: int, colour: int, buf: int | None = None):
        return self.c[lev][colour, self.cur[lev][colour] if buf is None else buf]


def _row_launch(rows: int, n: int, batch: int) -> tuple[tuple, tuple, int]:
    """Grid, block and chunks per row for the row-block mapping (threads along a row of n)."""
    bx = 32
    while bx < n and bx < 128:
        bx *= 2
    nch = (n + bx - 1) // bx
    return (rows * nch, batch), (bx,), nch


@dataclass
class _GraphEntry:
    graph: object
    work: _Work
    final_cur: list
    plan: _DevPlan  # the tables the graph's kernels read stay alive with it


class MultigridTwin:
    """The CUDA twin of :func:`lattice.solvers.multigrid.solve` (``load(exact)`` returns one)."""

    def __init__(self, exact: bool = False, device=None, mod=None):
        self.exact = bool(exact)
        if device is None:
            device = ModuleDevice(mod) if mod is not None else CupyDevice(self.exact)
        self.dev = device
        self.xp = self.dev.xp
        self._graphs: OrderedDict = OrderedDict()
        self.graph_failures = 0

    # -- public ---------------------------------------------------------------------------------
    def solve(self, c, *, dt_min, spacing_um, diffusion, decay, uptake=None, source=None, boundary,
              boundary_value=None, cycles=4, pre_smooth=2, post_smooth=2, graph=None, poison=False):
        """Same contract as :func:`lattice.solvers.multigrid.solve`, on device arrays.

        Extra options: ``graph`` (None: automatic, see the module docstring; True/False),
        ``poison`` (fill fresh workspaces with NaN: a test aid that shows unwritten reads).
        """
        from lattice.solvers.stencil import check_batch, check_boundary

        xp = self.xp
        check_boundary(boundary)
        c = xp.ascontiguousarray(xp.asarray(c, dtype=xp.float32))
        batch, spatial = check_batch(c)
        if batch > 65535:
            raise ValueError(f"at most 65535 fields per call, got {batch}")
        plan = _dev_plan(xp, spatial, boundary)
        cycles, pre, post = int(cycles), int(pre_smooth), int(post_smooth)
        u = None if uptake is None else self._field(uptake, c.shape)
        s = None if source is None else self._field(source, c.shape)
        D = xp.ascontiguousarray(xp.asarray(diffusion, dtype=xp.float64).reshape(-1))
        lam = xp.ascontiguousarray(xp.asarray(decay, dtype=xp.float32).reshape(-1))
        g = None
        if boundary == "dirichlet":
            g = xp.ascontiguousarray(xp.asarray(0.0 if boundary_value is None else boundary_value,
                                                dtype=xp.float32).reshape(-1))
        for name, arr in (("diffusion", D), ("decay", lam), ("boundary_value", g)):
            if arr is not None and arr.shape[0] not in (1, batch):
                raise ValueError(f"expected {batch} per-field values of {name}, got {arr.shape[0]}")
        dt = float(dt_min)
        k = dt / float(spacing_um) ** 2

        voxels = batch * int(np.prod(spatial))
        use_graph = getattr(self.dev, "graphs", False) and (
            graph if graph is not None else voxels <= getattr(self.dev, "graph_auto_voxels", GRAPH_AUTO_VOXELS)
        ) and self.graph_failures == 0
        entry = None
        if use_graph:
            entry = self._graph_entry(plan, batch, cycles, pre, post, poison)
        work = entry.work if entry is not None else _Work.allocate(xp, plan, batch, poison)
        work.cur = [[0, 0] for _ in plan.levels]
        self._params(work, batch, k, D, lam, g)
        self._setup0(plan, work, c, u, s, np.float32(dt))
        if entry is not None:
            self.dev.replay(entry.graph)
            work.cur = [list(x) for x in entry.final_cur]
        else:
            self._body(plan, work, cycles, pre, post)
        return self._output(plan, work, c.shape)

    # -- pieces ---------------------------------------------------------------------------------
    def _field(self, a, shape):
        xp = self.xp
        a = xp.asarray(a, dtype=xp.float32)
        if a.shape != shape:
            a = xp.broadcast_to(a, shape)
        return xp.ascontiguousarray(a)

    def _graph_entry(self, plan, batch, cycles, pre, post, poison):
        key = (plan.shape, plan.boundary, batch, cycles, pre, post)
        if key in self._graphs:
            self._graphs.move_to_end(key)
            return self._graphs[key]
        work = _Work.allocate(self.xp, plan, batch, poison)
        # Run the sequence once plainly first (on whatever the fresh workspace holds; setup0
        # overwrites level 0 before every replay): every kernel of the graph is then loaded before
        # the capture, which CUDA's lazy module loading needs on drivers older than 12.3.
        if getattr(self.dev, "warm_before_capture", True):
            work.cur = [[0, 0] for _ in plan.levels]
            self._body(plan, work, max(1, cycles), pre, post)
        work.cur = [[0, 0] for _ in plan.levels]
        try:
            graph = self.dev.capture(lambda: self._body(plan, work, cycles, pre, post))
        except Exception as exc:  # noqa: BLE001 — capture unsupported here: plain launches from now on
            import warnings

            self.graph_failures += 1
            warnings.warn(f"multigrid: CUDA graph capture failed ({exc}); using plain launches",
                          RuntimeWarning, stacklevel=3)
            return None
        entry = _GraphEntry(graph, work, [list(x) for x in work.cur], plan)
        self._graphs[key] = entry
        while len(self._graphs) > GRAPH_CACHE:
            self._graphs.popitem(last=False)
        return entry

    def _level_args(self, lv: _Lev, bnd: int, three_d: int) -> tuple:
        return (i32(lv.nz), i32(lv.ny), i32(lv.nx), i32(lv.hx), i32(three_d), i32(bnd), i32(int(lv.uniform)),
                f32(lv.scale), lv.gt, lv.wt)

    def _params(self, work: _Work, batch: int, k: float, D, lam, g) -> None:
        nG = 0 if g is None else g.shape[0]
        self.dev.launch("mg_params", ((batch + 127) // 128,), (128,), (
            i32(batch), i32(D.shape[0]), i32(lam.shape[0]), i32(nG), f64(k), D, lam,
            g if g is not None else lam, work.alpha32, work.alpha64, work.lam, work.two_g))

    def _setup0(self, plan: _DevPlan, work: _Work, c, u, s, dt32) -> None:
        lv = plan.levels[0]
        grid, block, nch = _row_launch(lv.nz * lv.ny, lv.nx, work.batch)
        self.dev.launch("mg_setup0", grid, block, (
            i32(lv.nz), i32(lv.ny), i32(lv.nx), i32(lv.hx), i64(lv.cs), i32(nch), i32(u is not None),
            i32(s is not None), f32(dt32), c, u if u is not None else c, s if s is not None else c, work.lam,
            work.cview(0, 0), work.cview(0, 1), work.f[0], work.a0[0]))

    def _output(self, plan: _DevPlan, work: _Work, shape):
        lv = plan.levels[0]
        out = self.xp.empty(shape, dtype=self.xp.float32)
        grid, block, nch = _row_launch(lv.nz * lv.ny, lv.nx, work.batch)
        self.dev.launch("mg_output", grid, block, (
            i32(lv.nz), i32(lv.ny), i32(lv.nx), i32(lv.hx), i64(lv.cs), i32(nch), work.cview(0, 0),
            work.cview(0, 1), out))
        return out

    def _body(self, plan: _DevPlan, work: _Work, cycles: int, pre: int, post: int) -> None:
        """Everything between the set-up of level 0 and the output: the graph's content."""
        three_d = int(plan.ndim == 3)
        nd2 = f32(2 * plan.ndim)
        levels = plan.levels
        for lev in range(len(levels) - 1):
            lv, lc = levels[lev], levels[lev + 1]
            grid, block, nch = _row_launch(lc.nz * lc.ny, lc.nx, work.batch)
            first = lev == 0
            self.dev.launch("mg_coarse_setup", grid, block, (
                i32(lv.nz), i32(lv.ny), i32(lv.nx), i32(lv.hx), i64(lv.cs), i32(three_d), i32(first), nd2,
                work.a0[lev], work.f[lev], work.w[lev] if not first else work.a0[lev], work.alpha32, lv.rt,
                i32(lc.nz), i32(lc.ny), i32(lc.nx), i32(lc.hx), i64(lc.cs), i32(nch),
                work.f[lev + 1], work.w[lev + 1], work.a0[lev + 1]))
        last = levels[-1]
        self.dev.launch("mg_lu", (work.batch,), (256,), (
            i32(last.nz), i32(last.ny), i32(last.nx), i32(last.hx), i64(last.cs), work.a0[-1], work.alpha64,
            plan.w64, plan.G, work.lu))
        for _ in range(cycles):
            self._vcycle(plan, work, 0, pre, post, three_d, nd2)

    def _vcycle(self, plan, work, lev, pre, post, three_d, nd2) -> None:
        bnd = BOUNDARY_CODES[plan.boundary]
        inhom = i32(lev == 0 and plan.boundary == "dirichlet")
        if lev == len(plan.levels) - 1:
            self._coarse_solve(plan, work, lev, bnd, three_d, inhom)
            return
        for _ in range(pre):
            self._smooth(plan, work, lev, bnd, three_d, inhom)
        self._restrict(plan, work, lev, bnd, three_d, inhom, nd2)
        self._vcycle(plan, work, lev + 1, pre, post, three_d, nd2)
        self._prolong(plan, work, lev, bnd, three_d)
        for _ in range(post):
            self._smooth(plan, work, lev, bnd, three_d, inhom)

    def _coarse_solve(self, plan, work, lev, bnd, three_d, inhom) -> None:
        lv = plan.levels[lev]
        self.dev.launch("mg_coarse_solve", (work.batch,), (64,), (
            *self._level_args(lv, bnd, three_d), i64(lv.cs), i32(1 if lev == 0 else 0), inhom, work.lu,
            work.f[lev], work.a0[lev], work.alpha32, work.two_g, work.cview(lev, 0), work.cview(lev, 1)))

    def _restrict(self, plan, work, lev, bnd, three_d, inhom, nd2) -> None:
        """Residual of ``lev``, weighted, restricted onto ``lev + 1``; coarse iterate zeroed."""
        lv, lc = plan.levels[lev], plan.levels[lev + 1]
        grid, block, nch = _row_launch(lc.nz * lc.ny, lc.nx, work.batch)
        first = lev == 0
        self.dev.launch("mg_restrict", grid, block, (
            *self._level_args(lv, bnd, three_d), i64(lv.cs), inhom, i32(first), nd2,
            work.cview(lev, 0), work.cview(lev, 1), work.f[lev], work.a0[lev],
            work.w[lev] if not first else work.a0[lev], work.alpha32, work.two_g, lv.rt,
            i32(lc.nz), i32(lc.ny), i32(lc.nx), i32(lc.hx), i64(lc.cs), i32(nch), work.w[lev + 1],
            work.f[lev + 1], work.cview(lev + 1, 0), work.cview(lev + 1, 1)))

    def _prolong(self, plan, work, lev, bnd, three_d) -> None:
        """``c_lev += P(c_{lev+1})``."""
        lv, lc = plan.levels[lev], plan.levels[lev + 1]
        grid, block, nch = _row_launch(lv.nz * lv.ny, lv.nx, work.batch)
        self.dev.launch("mg_prolong", grid, block, (
            i32(lv.nz), i32(lv.ny), i32(lv.nx), i32(lv.hx), i64(lv.cs), i32(three_d), i32(bnd), i32(nch),
            i32(lc.nz), i32(lc.ny), i32(lc.nx), i32(lc.hx), i64(lc.cs), lv.pt, lv.pw,
            work.cview(lev + 1, 0), work.cview(lev + 1, 1), work.cview(lev, 0), work.cview(lev, 1)))

    def _smooth(self, plan, work, lev, bnd, three_d, inhom) -> None:
        """One red–black Gauss–Seidel sweep: red half-sweep, then black (ping-pong buffers)."""
        lv = plan.levels[lev]
        grid, block, nch = _row_launch(lv.nz * lv.ny, lv.hx, work.batch)
        for colour in (0, 1):
            src = work.cur[lev][colour]
            self.dev.launch("mg_smooth", grid, block, (
                *self._level_args(lv, bnd, three_d), i64(lv.cs), i32(nch), i32(colour), inhom,
                work.cview(lev, 0), work.cview(lev, 1), work.c[lev][colour, 1 - src], work.f[lev], work.a0[lev],
                work.alpha32, work.two_g))
            work.cur[lev][colour] = 1 - src


_TWINS: dict[bool, MultigridTwin] = {}


def load(exact: bool = False) -> MultigridTwin:
    """The twin for this build (``exact`` → ``--fmad=false``), one per process and build."""
    exact = bool(exact)
    if exact not in _TWINS:
        _TWINS[exact] = MultigridTwin(exact)
    return _TWINS[exact]
