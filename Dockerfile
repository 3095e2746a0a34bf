# DTP Lattice on an NVIDIA GPU: the CUDA 12 runtime (with NVRTC, which CuPy compiles the kernels
# with), CuPy, the project with the sweep tools and cluster launchers, and `lattice-run` as the
# entrypoint, run by an unprivileged user. docs/cloud.md has the cloud and cluster recipes.
#   docker build -t dtp-lattice .
#   docker run --rm --gpus all -v "$PWD/runs:/home/lattice/runs" dtp-lattice experiment=competitive_release
#   docker run --rm --gpus all -v "$PWD/runs:/home/lattice/runs" --entrypoint lattice-sweep dtp-lattice runs/multirun/...
ARG CUDA_VERSION=12.6.3
FROM nvidia/cuda:${CUDA_VERSION}-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/lattice \
    PATH=/opt/lattice/bin:$PATH

# Ubuntu 24.04's Python 3.12; the package versions follow the CUDA image's Ubuntu release.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/lattice

# Only what the package is built from (.dockerignore keeps the rest out), so edits to tests or
# docs do not invalidate the install layer.
WORKDIR /opt/src
COPY pyproject.toml README.md ./
COPY lattice ./lattice
COPY kernels ./kernels
COPY viewer ./viewer
COPY conf ./conf
# The project itself (a local path: nothing to pin; its dependencies' bounds are in pyproject.toml).
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".[gpu,sweep,cluster]" \
 && lattice-run --help > /dev/null

# A numeric user id, so that Kubernetes' runAsNonRoot can verify it.
RUN useradd --create-home --uid 10001 --shell /bin/bash lattice
USER 10001
WORKDIR /home/lattice
# Runs go to /home/lattice/runs (mount a volume there); CuPy caches compiled kernels in ~/.cupy.
ENTRYPOINT ["lattice-run"]
CMD []
