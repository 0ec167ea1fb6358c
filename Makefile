# The README's two commands: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint format install clean constraints images images-test

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "make: Python >= 3.10 is needed, found " + sys.version.split()[0] + "; run: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(INSTALLED): $(BIN)/python runner/pyproject.toml aggregator/pyproject.toml requirements/test.txt requirements/constraints.txt
	@# constraints.txt pins what CI tests; the Docker images install with the same file.
	$(PIP) install -q -c requirements/constraints.txt -e 'runner[onnxruntime,openvino,tvm,litert,edgetpu,vx,hailort,vart,datasets,zoo,tensorrt,trtexec,nvml]' \
		-e 'aggregator[docker]' -r requirements/test.txt
	@# The report test opens index.html in a real headless Chromium (Debian's package).
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || \
		echo "make: no Chromium (apt-get install chromium): the HTML report test will be skipped"
	@# The peak probe's Arm kernels are built with Debian's cross compiler and run under qemu-user.
	@{ command -v aarch64-linux-gnu-gcc && command -v qemu-aarch64; } >/dev/null || { [ "$$(id -u)" = 0 ] && \
		command -v apt-get >/dev/null && apt-get install -y -qq gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
		qemu-user >/dev/null; } || echo "make: no aarch64-linux-gnu-gcc or qemu-aarch64: the Arm peak kernels test will be skipped"
	@touch $@

install: $(INSTALLED)

demo: $(INSTALLED)
	$(BIN)/python scripts/demo.py

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# After changing a dependency: reinstall without the old pins, then freeze the tested set again.
constraints: $(BIN)/python
	$(PIP) install -q -U -e 'runner[onnxruntime,openvino,tvm,litert,edgetpu,vx,hailort,vart,datasets,zoo,tensorrt,trtexec,nvml]' -e 'aggregator[docker]' -r requirements/test.txt
	{ sed -n '1,3p' requirements/constraints.txt; $(PIP) freeze --exclude-editable; } > requirements/constraints.tmp
	mv requirements/constraints.tmp requirements/constraints.txt

# The images of docker-bake.hcl, built with a real Docker engine (started, or installed, if none
# answers; a stand-in base where the pinned one cannot be pulled): scripts/images.py.
images: $(INSTALLED)
	$(BIN)/python scripts/images.py

# Build, then run each image as a user would (scripts/images_test.py); a dockerd it started is
# stopped at the end.
images-test: $(INSTALLED)
	$(BIN)/python scripts/images_test.py --build

clean:
	rm -rf $(VENV) .cache build
