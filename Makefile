# Two commands do all the set-up on a fresh Linux machine with Python >= 3.11 and make:
#   make run    create .venv, install with the viewer and joblib extras (what the README tour uses:
#               lattice-view, lattice-report, hydra/launcher=joblib), run the first scenario:
#               experiment=dtp_relapse, a vascularised tumour under therapy whose persisters survive
#               and seed the relapse (about a minute on 2 cores; GPU if there is one), with the
#               DTP story table and report PNGs. `make run SCENARIO= ARGS="..."` runs anything else.
#   make test   install what the tests need (Xvfb via apt-get when root), run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
ARGS   ?=
SCENARIO ?= experiment=dtp_relapse

.PHONY: run test test-fast system-deps kernels-check bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Editable install of the core package (re-done when pyproject.toml changes).
$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e .
	touch $@

# What `make run` and the README tour use: the viewer (napari, matplotlib) and the joblib launcher.
# Then napari's reader preference, so that `napari RUN/run.zarr` opens with the DTP Lattice reader.
$(VENV)/.tour: pyproject.toml constraints/test.txt | $(BIN)/python
	$(PIP) install -q -c constraints/test.txt -e '.[viewer,joblib]'
	-$(BIN)/lattice-view --register-reader
	touch $(VENV)/.core $@

# Everything the test suite needs: test tools, the viewer stack, the joblib launcher.
$(VENV)/.test: pyproject.toml constraints/test.txt | $(BIN)/python
	$(PIP) install -q -c constraints/test.txt -e '.[test,viewer,viewer-test]'
	touch $(VENV)/.core $@

run: $(VENV)/.tour
	$(BIN)/lattice-run $(SCENARIO) $(ARGS)

# Debian packages napari needs to render under a virtual display (docs/pitfalls.md: napari).
XVFB_PKGS := xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 \
	libxcb-xinerama0 libxcb-xkb1 libxcb-randr0 libxcb-shape0 libxcb-cursor0 libxkbcommon-x11-0 \
	libgl1 libegl1 libfontconfig1 libdbus-1-3
system-deps:
	@if command -v Xvfb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Xvfb and Qt runtime libraries with apt-get"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(XVFB_PKGS)) >/dev/null \
	  || echo "warning: apt-get could not install Xvfb; viewer tests will be skipped"; \
	else echo "note: Xvfb not found and not root; viewer tests will be skipped"; fi

test: system-deps $(VENV)/.test
	$(BIN)/python -m pytest -q $(ARGS)

test-fast: $(VENV)/.test
	$(BIN)/python -m pytest -q -m "not slow and not viewer" $(ARGS)

# Compile every CUDA source for sm_80 and sm_90 (also run by the test suite when nvcc exists).
kernels-check:
	@for f in kernels/*.cu; do for a in sm_80 sm_90; do \
	  nvcc -arch=$$a --ptx -I kernels -o /dev/null $$f || exit 1; done; echo "ok $$f"; done

bench: $(VENV)/.core
	$(BIN)/python scripts/bench_diffusion.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
