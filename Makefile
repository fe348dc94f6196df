# ssbmech — the README's two commands are `make demo` and `make test`; both run `setup` first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := $(shell cat containers/apt-packages.txt)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
NP ?= 2
CASE ?= cases/si_lpscl_rve.yaml
RUN_DIR ?= runs/$(basename $(notdir $(CASE)))
# OpenMPI refuses to start as root without these; harmless for other users.
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1
export OMPI_MCA_rmaps_base_oversubscribe := 1
MPIRUN := mpirun -n $(NP)

.PHONY: setup apt venv demo test test-serial test-mpi lint bench verify clean

setup: apt venv

apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	else echo "setup: Debian packages present (FEniCSx stack, Gmsh, OpenMPI)"; fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml containers/apt-packages.txt
	@[ -x $(PY) ] || { echo "setup: creating $(VENV) from /usr/bin/python3 with system site packages"; \
	  /usr/bin/python3 -m venv --system-site-packages $(VENV); }
	@echo "setup: pinning Debian's numpy/mpi4py/petsc4py/h5py so pip never replaces them"
	@$(PY) -c "import numpy, mpi4py, petsc4py, h5py; \
	  print('\n'.join(f'{m.__name__}=={m.__version__}' for m in (numpy, mpi4py, petsc4py, h5py)))" \
	  > $(VENV)/constraints.txt
	@echo "setup: pip install -e .[dev]"
	@$(PY) -m pip install -q --disable-pip-version-check -c $(VENV)/constraints.txt -e '.[dev]'
	@$(PY) -c "import dolfinx, gmsh, pyvista; print('setup: ok — DOLFINx', dolfinx.__version__, '| gmsh', gmsh.__version__, '| pyvista', pyvista.__version__)"
	@touch $@

demo: setup
	@echo "demo: running $(CASE) on $(NP) MPI ranks into $(RUN_DIR)"
	$(MPIRUN) $(VENV)/bin/ssbmech run $(CASE) --out $(RUN_DIR) --force
	$(VENV)/bin/ssbmech render $(RUN_DIR)
	@echo "demo: done — open $(RUN_DIR)/figures/report.html, or $(RUN_DIR)/fields.xdmf in ParaView"

test: setup lint test-serial test-mpi

lint:
	@echo "test: ruff + mypy; hadolint (Dockerfile) + shellcheck (scripts)"
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/hadolint containers/Dockerfile
	$(VENV)/bin/shellcheck .ci/run containers/*.sh

test-serial:
	@echo "test: serial suite"
	$(VENV)/bin/pytest -q

test-mpi:
	@echo "test: MPI suite (mpirun -n 2, tests marked mpi)"
	$(MPIRUN) $(VENV)/bin/pytest -q -m mpi -p no:cacheprovider

verify: setup
	@echo "verify: running the verification tests and writing docs/verification.md"
	rm -rf build/verify
	SSBMECH_VERIFY_DIR=build/verify $(VENV)/bin/pytest -q -m verification -p no:cacheprovider
	$(PY) -m postprocess.verification build/verify docs

bench: setup
	$(PY) bench/elasticity.py
	$(PY) bench/chemomech.py

clean:
	rm -rf $(VENV) runs build .pytest_cache .mypy_cache .ruff_cache
