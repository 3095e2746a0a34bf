"""Run directories in object storage (``s3://``, ``gs://``… through fsspec; docs/outputs.md
"Runs in object storage").

A run whose directory is a URL is written exactly as a local one, into a local *staging*
directory, and :class:`Mirror` uploads what changed after every recording point and at the end.
Each object store PUT replaces one object atomically, and the upload follows the local commit
order, so the remote copy is always a complete earlier-or-equal state of the run:

1. chunks and shards of ``run.zarr`` (a frame's data, never yet listed as complete);
2. the ``zarr.json`` documents, the root one last (it lists the complete frames);
3. ``summary.h5`` (and ``lineage.h5``);
4. the checkpoint ``run.zarr/state``, as ONE object ``state.tar`` (a directory of objects
   cannot be replaced atomically, one object can);
5. objects no longer present locally are deleted (chunks trimmed at the end of a run).

Readers (``lattice-report``, ``lattice-sweep``, the napari reader, ``resume=``) call
:func:`localize`, which downloads the remote directory into a local cache and rebuilds the
checkpoint from ``state.tar``: the local readers then work unchanged. Credentials and
endpoints come from the usual places of the fsspec backend (for S3: ``AWS_*`` variables,
``AWS_ENDPOINT_URL`` or ``FSSPEC_S3_ENDPOINT_URL`` for an S3-compatible server).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tarfile
from pathlib import Path

from lattice.io.layout import STATE_PATH
from lattice.io.rundir import LINEAGE_NAME, SUMMARY_NAME, ZARR_NAME, OutputError

#: ``scheme://…`` with a scheme of two letters or more (``C:\\`` is a Windows drive, not a URL).
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")
#: The checkpoint's single object in the remote run directory.
STATE_ARCHIVE = "state.tar"
#: The download cache's record of the remote object versions it holds.
_MANIFEST = ".remote-manifest.json"
#: Environment variable naming the local cache of staged and downloaded runs.
CACHE_ENV = "LATTICE_CACHE"


def is_url(path: object) -> bool:
    """Whether ``path`` is a URL (``s3://bucket/run``) rather than a local path."""
    return isinstance(path, str) and bool(_URL.match(path))


def _filesystem(url: str):
    """The fsspec filesystem of ``url`` and the path inside it.

    Raises:
        OutputError: no fsspec backend for the URL's scheme (names the package to install).
    """
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        scheme = url.split("://", 1)[0]
        hint = {"s3": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs"}.get(scheme, "its fsspec backend")
        raise OutputError(f"{url}: cannot open {scheme}:// URLs ({exc}); pip install {hint}") from None
    return fs, root.rstrip("/")


def cache_dir(url: str, kind: str) -> Path:
    """The local folder for ``url``: ``$LATTICE_CACHE/<kind>/<hash>`` (default cache
    ``~/.cache/dtp-lattice``); ``kind`` is ``staging`` (runs being written) or ``download``."""
    base = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "dtp-lattice").expanduser()
    digest = hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:16]
    return (base / kind / digest).absolute()


def remote_has_run(url: str) -> bool:
    """Whether ``url`` holds a run (``run.zarr`` or ``summary.h5``)."""
    fs, root = _filesystem(url)
    fs.invalidate_cache()
    return fs.exists(f"{root}/{ZARR_NAME}/zarr.json") or fs.exists(f"{root}/{SUMMARY_NAME}")


def _upload_rank(rel: str) -> tuple[int, int, str]:
    """Upload order (see the module doc): data, then metadata deepest first, then the root
    metadata, then the summary tables, then the checkpoint."""
    name = rel.rsplit("/", 1)[-1]
    if rel == STATE_ARCHIVE:
        return (4, 0, rel)
    if rel in (SUMMARY_NAME, LINEAGE_NAME):
        return (3, 0, rel)
    if name == "zarr.json" or name == ".zmetadata":
        return (2 if rel == f"{ZARR_NAME}/zarr.json" else 1, -rel.count("/"), rel)
    return (0, 0, rel)


def _local_files(staging: Path) -> dict[str, tuple[int, int]]:
    """``relative path -> (size, mtime_ns)`` of what a run publishes (scratch names excluded;
    the checkpoint is published as ``state.tar``)."""
    files: dict[str, tuple[int, int]] = {}
    for name in (SUMMARY_NAME, LINEAGE_NAME):
        p = staging / name
        if p.is_file():
            st = p.stat()
            files[name] = (st.st_size, st.st_mtime_ns)
    store = staging / ZARR_NAME
    for p in sorted(store.rglob("*")) if store.is_dir() else []:
        rel = p.relative_to(staging).as_posix()
        if not p.is_file() or rel.startswith(f"{ZARR_NAME}/{STATE_PATH}/") or p.name.endswith(".tmp"):
            continue
        st = p.stat()
        files[rel] = (st.st_size, st.st_mtime_ns)
    return files


def _state_signature(state: Path) -> tuple:
    return tuple((p.relative_to(state).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
                 for p in sorted(state.rglob("*")) if p.is_file())


def _state_archive(state: Path) -> bytes:
    """The checkpoint folder as a tar (sorted names, zeroed times: same state, same bytes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for p in sorted(state.rglob("*")):
            info = tar.gettarinfo(p, arcname=p.relative_to(state).as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if p.is_file():
                with open(p, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    return buf.getvalue()


class Mirror:
    """Uploads a staged run directory to ``url`` (see the module doc for the order).

    Args:
        staging: the local run directory the writer writes.
        url: the remote run directory.
    """

    def __init__(self, staging: Path, url: str) -> None:
        self.staging = Path(staging)
        self.url = url.rstrip("/")
        self.fs, self.root = _filesystem(self.url)
        self._sent: dict[str, tuple[int, int]] = {}
        self._state_sent: tuple | None = None
        self.uploads = 0  #: objects put so far (tests and logs)

    def adopt_remote(self) -> None:
        """Treat the current local files as already uploaded (after :func:`download` of a
        resumed run), so only what changes afterwards is sent."""
        self._sent = _local_files(self.staging)
        state = self.staging / ZARR_NAME / STATE_PATH
        self._state_sent = _state_signature(state) if state.is_dir() else None

    def sync(self) -> None:
        """Upload what changed since the last call, in commit order; delete what vanished.

        Raises:
            OutputError: an upload failed (the remote copy stays a complete earlier state).
        """
        try:
            self._sync()
        except OSError as exc:
            raise OutputError(f"cannot upload the run to {self.url}: {exc}; the local copy in {self.staging} is "
                              f"complete: upload it, or resume from {self.url} (its last uploaded frame)") from exc

    def _sync(self) -> None:
        now = _local_files(self.staging)
        changed = sorted((rel for rel, sig in now.items() if self._sent.get(rel) != sig), key=_upload_rank)
        for rel in changed:
            self.fs.put_file(str(self.staging / rel), f"{self.root}/{rel}")
            self.uploads += 1
        state = self.staging / ZARR_NAME / STATE_PATH
        if state.is_dir():
            sig = _state_signature(state)
            if sig != self._state_sent:
                self.fs.pipe_file(f"{self.root}/{STATE_ARCHIVE}", _state_archive(state))
                self.uploads += 1
                self._state_sent = sig
        for rel in sorted(set(self._sent) - set(now)):
            try:
                self.fs.rm_file(f"{self.root}/{rel}")
            except FileNotFoundError:
                pass
        self._sent = now


def _version(info: dict) -> str:
    """What identifies one version of a remote object (ETag where the backend gives one)."""
    tag = info.get("ETag") or info.get("etag") or info.get("md5Hash") or info.get("LastModified") or info.get("mtime")
    return f"{info.get('size')}:{tag}"


def download(url: str, target: Path) -> Path:
    """Bring ``target`` up to date with the remote directory ``url``: objects new or changed
    since the last call are fetched (a manifest of versions is kept in ``target``), local files
    gone remotely are removed, and every run's checkpoint ``run.zarr/state`` is rebuilt from its
    ``state.tar``. Metadata is fetched after the data, so a reader that already holds ``target``
    open sees, as with a local live run, a complete earlier-or-equal state. Returns ``target``.

    Raises:
        FileNotFoundError: nothing at ``url``.
        OutputError: no fsspec backend for the scheme.
    """
    fs, root = _filesystem(url)
    fs.invalidate_cache()
    if not fs.isdir(root):
        raise FileNotFoundError(f"{url}: no such remote directory")
    manifest_path = target / _MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = {}
    remote = {}
    for name, info in fs.find(root, detail=True).items():
        rel = name[len(root) + 1:]
        if rel and not rel.endswith("/") and rel != _MANIFEST:
            remote[rel] = _version(info)
    target.mkdir(parents=True, exist_ok=True)
    for rel in sorted((r for r, v in remote.items() if manifest.get(r) != v), key=_upload_rank):
        local = target / rel
        local.parent.mkdir(parents=True, exist_ok=True)
        if local.name == STATE_ARCHIVE:
            state = local.parent / ZARR_NAME / STATE_PATH
            if state.exists():
                shutil.rmtree(state)
            with tarfile.open(fileobj=io.BytesIO(fs.cat_file(f"{root}/{rel}")), mode="r") as tar:
                tar.extractall(state, filter="data")
        else:
            tmp = local.with_name(local.name + ".download")
            fs.get_file(f"{root}/{rel}", str(tmp))
            os.replace(tmp, local)
    for rel in sorted(set(manifest) - set(remote)):
        gone = target / rel
        if gone.name == STATE_ARCHIVE:
            shutil.rmtree(gone.parent / ZARR_NAME / STATE_PATH, ignore_errors=True)
        else:
            gone.unlink(missing_ok=True)
    manifest_path.write_text(json.dumps(remote, indent=0, sort_keys=True))
    return target


def localize(path: str | Path) -> Path:
    """A local path for ``path``: itself when local, else the URL's copy in the cache
    (``$LATTICE_CACHE/download/…``), brought up to date (:func:`download`) for the readers."""
    if not is_url(path):
        return Path(path)
    return download(str(path), cache_dir(str(path), "download"))


def stage_new(url: str, overwrite: bool) -> Path:
    """An empty local staging directory for a new run to be mirrored to ``url``.

    Raises:
        RunExistsError: ``url`` holds a run and ``overwrite`` is false.
    """
    from lattice.io.rundir import RUN_OUTPUTS, RunExistsError

    if remote_has_run(url):
        if not overwrite:
            raise RunExistsError(f"{url} already holds a run ({ZARR_NAME} / {SUMMARY_NAME}): pass resume={url} to "
                                 f"continue it, output.overwrite=true to replace it, or choose another output.dir")
        fs, root = _filesystem(url)
        for name in (*RUN_OUTPUTS, STATE_ARCHIVE):
            if fs.exists(f"{root}/{name}"):
                fs.rm(f"{root}/{name}", recursive=True)
    staging = cache_dir(url, "staging")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    return staging


def stage_resume(url: str) -> Path:
    """The remote run at ``url`` downloaded afresh into its local staging directory, to continue it."""
    staging = cache_dir(url, "staging")
    if staging.exists():  # whatever a killed process left there may be ahead of the bucket
        shutil.rmtree(staging)
    return download(url, staging)
