"""Runs in object storage (lattice.io.remote; docs/outputs.md "Runs in object storage"), against
a local S3 server (moto's server mode on 127.0.0.1, started here: only loopback traffic).

A run written to ``s3://`` opens with lattice-report, lattice-sweep and the napari reader, and a
run killed mid-way resumes from the bucket to the uninterrupted run's exact summary and frames.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

moto_server = pytest.importorskip("moto.server", reason="moto[server] (test extra) runs the local S3 server")
s3fs = pytest.importorskip("s3fs", reason="s3fs: fsspec's s3:// backend")

#: 8×8, 30 frames: small, but long enough to be killed between frames.
RUN = ["grid.shape=[8,8]", "duration_h=120", "output.every_h=4", "tumour.initial.radius_um=30",
       "output.progress=false", "backend=numpy", "seed=5"]
FRAMES = 31  # t = 0, 4, …, 120 h


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_env(tmp_path_factory):
    """A moto S3 server on a free loopback port with one bucket; the environment that points
    s3fs at it (also handed to the lattice-run subprocesses)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "LATTICE_CACHE": str(tmp_path_factory.mktemp("cache"))}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    s3fs.S3FileSystem.clear_instance_cache()
    s3fs.S3FileSystem().mkdir("bucket")
    yield env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    server.stop()


def _run(args, cwd: Path, env: dict, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lattice.cli", *args], cwd=cwd, env=os.environ | env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kwargs)


def _remote_frames(url: str) -> int:
    """Complete frames of the remote run, read from its root metadata (0 before it exists)."""
    fs = s3fs.S3FileSystem()
    fs.invalidate_cache()
    try:
        meta = json.loads(fs.cat_file(url.removeprefix("s3://") + "/run.zarr/zarr.json"))
    except FileNotFoundError:
        return 0
    return len(meta["attributes"]["dtp_lattice"]["frame_times_h"])


def _summary_bytes(url: str) -> bytes:
    return s3fs.S3FileSystem().cat_file(url.removeprefix("s3://") + "/summary.h5")


@pytest.fixture(scope="module")
def full_run(s3_env, tmp_path_factory):
    """An uninterrupted run written to s3://bucket/sweep/full."""
    cwd = tmp_path_factory.mktemp("full")
    url = "s3://bucket/sweep/full"
    proc = _run([*RUN, f"output.dir={url}", f"hydra.run.dir={cwd / 'hydra'}"], cwd, s3_env)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return url, cwd


def test_bucket_url_writes_no_local_folder(full_run):
    """The bug of the issue: output.dir=s3://… used to create a local folder named 's3:'."""
    url, cwd = full_run
    assert not any(p.name.startswith("s3") for p in cwd.rglob("*"))
    assert _remote_frames(url) == FRAMES


def test_remote_run_reads_like_a_local_one(full_run):
    from lattice.io import open_run
    from lattice.sweep import read_run

    url, _ = full_run
    run = open_run(url)
    assert run.n_frames == FRAMES
    np.testing.assert_allclose(run.frame_times_h, np.arange(FRAMES) * 4.0)
    assert run.frame(-1)["cells"].shape == (8, 8)
    assert run.state() is not None  # the checkpoint came back from state.tar
    records = read_run(url)
    assert len(records) == 1 and records[0].seed == 5
    assert len(records[0].timeseries["time_h"]) == len(run.summary()[0]["time_h"])


def test_napari_reader_opens_the_url(full_run):
    from lattice.viewer.reader import napari_get_reader

    url, _ = full_run
    assert napari_get_reader("s3://bucket/no-such-run") is None
    reader = napari_get_reader(url)
    assert reader is not None
    layers = reader(url)
    cells = next(data for data, meta, kind in layers if kind == "labels")
    assert cells.shape[0] == FRAMES


def test_lattice_report_and_sweep_open_the_url(full_run, tmp_path):
    pytest.importorskip("matplotlib")
    for name in ("lifelines", "pandas", "pyarrow"):
        pytest.importorskip(name)
    from lattice.viewer.report import main as report_main

    from lattice.sweep import main as sweep_main

    url, _ = full_run
    assert report_main([url, "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "populations.png").stat().st_size > 0
    assert sweep_main(["s3://bucket/sweep", "--out", str(tmp_path / "analysis")]) == 0
    import pandas as pd

    table = pd.read_csv(tmp_path / "analysis" / "runs.csv")
    assert len(table) == 1 and table["seed"].tolist() == [5]


def test_killed_run_resumes_from_the_bucket_exactly(full_run, s3_env, tmp_path):
    """SIGKILL mid-run: the bucket holds a complete earlier state (every listed frame reads);
    resume=s3://… finishes with the uninterrupted run's summary bytes and frames."""
    from lattice.io import open_run

    url = "s3://bucket/killed"
    # The uninterrupted run first, at the same URL (output.dir is part of the stored config).
    whole = _run([*RUN, f"output.dir={url}", f"hydra.run.dir={tmp_path / 'whole'}"], tmp_path, s3_env)
    _, err = whole.communicate(timeout=300)
    assert whole.returncode == 0, err
    expected = _summary_bytes(url)
    run = open_run(url)
    uninterrupted = [run.frame(k) for k in range(run.n_frames)]  # in memory: the URL's copy is rewritten below
    s3fs.S3FileSystem().rm(url.removeprefix("s3://"), recursive=True)

    proc = _run([*RUN, f"output.dir={url}", f"hydra.run.dir={tmp_path / 'hydra'}"], tmp_path, s3_env)
    deadline = time.time() + 120
    while time.time() < deadline and _remote_frames(url) < 4:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    cut = _remote_frames(url)
    assert 4 <= cut < FRAMES, "the run was not killed mid-way: make RUN longer"
    killed = open_run(url)
    assert killed.n_frames >= cut
    for k in range(killed.n_frames):  # every frame the bucket lists is complete
        assert killed.frame(k)["cells"].shape == (8, 8)

    resumed = _run([f"resume={url}"], tmp_path, s3_env)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert _summary_bytes(url) == expected
    resumed_run = open_run(url)
    assert resumed_run.n_frames == len(uninterrupted) == FRAMES
    for k, expected_frame in enumerate(uninterrupted):
        got = resumed_run.frame(k)
        for name in expected_frame:
            np.testing.assert_array_equal(got[name], expected_frame[name])


def test_existing_remote_run_is_refused(full_run, s3_env, tmp_path):
    url, _ = full_run
    proc = _run([*RUN, f"output.dir={url}", f"hydra.run.dir={tmp_path / 'h'}"], tmp_path, s3_env)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "already holds a run" in err and "Traceback" not in err


def test_overwrite_replaces_the_remote_run(s3_env, tmp_path):
    """output.overwrite=true on a URL holding a run: the old objects go, the new run is complete
    (a shorter run: no frame of the old one is left listed)."""
    from lattice.io import open_run

    url = "s3://bucket/overwritten"
    fs = s3fs.S3FileSystem()
    fs.pipe_file("bucket/overwritten/summary.h5", b"not a run")  # an earlier "run" at the URL
    fs.pipe_file("bucket/overwritten/state.tar", b"stale")
    short = [a for a in RUN if not a.startswith("duration_h")] + ["duration_h=8"]
    proc = _run([*short, f"output.dir={url}", "output.overwrite=true", f"hydra.run.dir={tmp_path / 'h'}"],
                tmp_path, s3_env)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert _remote_frames(url) == 3
    assert open_run(url).state() is not None  # the stale state.tar was replaced by a real checkpoint


def test_upload_order_is_the_commit_order():
    """Data before metadata, the root metadata (the frame list) after every other document,
    then the summary, then the checkpoint: an interrupted upload leaves an earlier state."""
    from lattice.io.remote import _upload_rank

    names = ["state.tar", "summary.h5", "run.zarr/zarr.json", "run.zarr/0/zarr.json", "run.zarr/labels/cells/0/zarr.json",
             "run.zarr/0/c/3/0/0/0/0", "lineage.h5"]
    order = sorted(names, key=_upload_rank)
    assert order[0] == "run.zarr/0/c/3/0/0/0/0"
    assert order.index("run.zarr/labels/cells/0/zarr.json") < order.index("run.zarr/0/zarr.json")
    assert order[-4:] == ["run.zarr/zarr.json", "lineage.h5", "summary.h5", "state.tar"]


def test_urls_are_told_from_paths():
    from lattice.io.remote import is_url

    assert is_url("s3://bucket/run") and is_url("gs://b/r")
    assert not is_url("runs/2026-11-30/06-00-00") and not is_url("C:\\runs") and not is_url(None)


@pytest.mark.parametrize("args,needle", [
    (["-m", "seed=1,2", "output.dir=s3://bucket/sweep-url"], "output.dir=s3://bucket/sweep-url"),
    (["resume=s3://bucket/no-such-run"], "resume=s3://bucket/no-such-run"),
])
def test_bad_remote_commands_are_refused_in_one_line(s3_env, tmp_path, args, needle):
    proc = _run([*args, f"hydra.sweep.dir={tmp_path / 's'}"] if "-m" in args else args, tmp_path, s3_env)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s3:").exists()
