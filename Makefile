# The two commands of README.md: `make demo` (set up + run the whole pipeline on the example)
# and `make test` (set up + run the test suite). Everything else is a helper of those two.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXAMPLE := examples/data/example

.PHONY: setup demo lint test test-fast viewer-picture example bench-fit bench-real bench-scale bench-viewer bench-masks clean chromium

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU build of torch (a CUDA user: see README, "Install").
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[batch,viewer,dev]"
	touch $(STAMP)

setup: $(STAMP)

$(EXAMPLE)/cams.json: $(STAMP) examples/make_example.py
	$(BIN)/python examples/make_example.py --out $(EXAMPLE)

example: $(EXAMPLE)/cams.json

demo: example
	rm -rf runs/example
	$(BIN)/dvr fit $(EXAMPLE)/images --cameras $(EXAMPLE)/cams.json --out runs/example --minutes 3
	$(BIN)/dvr export runs/example --format ply
	$(BIN)/dvr export runs/example --format obj --resolution 256 --simplify 60000
	$(BIN)/dvr render runs/example --view novel --frames 24 --video
	$(BIN)/dvr eval runs/example --gt-mesh $(EXAMPLE)/mesh.ply --test-cameras $(EXAMPLE)/test/cams.json

# The viewer's test opens `dvr view` in a real browser: Debian's chromium, installed (as root) when missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

# ruff (pyproject.toml: [tool.ruff]) before the tests, so that a lint error fails CI.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The Khronos glTF validator (npm package) that a test runs on an exported GLB: installed into .tools/ when
# missing (without npm the test skips and says why).
.PHONY: gltf-validator
gltf-validator:
	@test -d .tools/node_modules/gltf-validator || ! command -v npm >/dev/null 2>&1 || \
		npm install --silent --prefix .tools gltf-validator

test: lint chromium gltf-validator
	$(BIN)/python -m pytest -q --durations=20

# The quick subset for development: no slow runs, no wall-clock assertions.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not timing"

# docs/viewer.png, the guide's picture of `dvr view`: the browser test's screenshot.
viewer-picture: $(STAMP) chromium
	DVR_VIEWER_PICTURE=$(CURDIR)/docs/viewer.png $(BIN)/python -m pytest -q tests/viewer/test_browser.py

bench-fit: $(STAMP)
	$(BIN)/python benchmarks/bench_fit.py --eval-every 5 --paper-budget 600 --paper-eval-every 120

REAL_SCENES := dtu24 dtu65 dtu69 dtu106 lego
# One process per scene; a scene whose result.json exists is skipped, so a stopped run resumes.
bench-real: $(STAMP)
	for s in $(REAL_SCENES); do $(BIN)/python benchmarks/bench_real.py --scenes $$s --results-md docs/results.md || exit 1; done
	for s in $(REAL_SCENES); do $(BIN)/python benchmarks/bench_real.py --scenes $$s --no-masks --results-md docs/results.md || exit 1; done
	for s in $(REAL_SCENES); do $(BIN)/python benchmarks/bench_real.py --scenes $$s --budget-min 3 --field-only \
		--out benchmarks/out/real3 --docs benchmarks/out/real3 --results-md docs/results.md || exit 1; done

bench-scale: $(STAMP)
	$(BIN)/python benchmarks/bench_scale.py

bench-viewer: $(STAMP)
	$(BIN)/python benchmarks/bench_viewer.py --iters 300 --rounds 2

bench-masks: $(STAMP)
	$(BIN)/python benchmarks/bench_masks.py

clean:
	rm -rf $(VENV) runs examples/data
