# DigitVision developer commands. Everything installs into .venv/ at the repo root.

PYTHON_BOOTSTRAP := $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test run migrate fetch-mnist train bench bench-cli bench-retrain bench-training-run lint

install: $(STAMP)

# Re-installs only when a requirements file changes, so repeated runs are instant.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

test: install
	$(PY) -m pytest

migrate: install
	$(PY) manage.py migrate --noinput

# The whole application on the embedded default (SQLite, filesystem broker): web server and Celery worker.
run: migrate
	$(PY) manage.py bootstrap
	$(VENV)/bin/honcho start -f Procfile

fetch-mnist: install
	$(PY) -m ml.data

train: install
	$(PY) -m ml.train

bench: install
	$(PY) -m ml.bench

# Retraining from 200 simulated corrections in one handwriting style; candidates go to a temp dir.
bench-retrain: install
	$(PY) -m ml.bench_retrain

lint: install
	$(VENV)/bin/ruff check .

# MNIST test digits as PNG files through `manage.py predict`, the command-line contract, end to end.
BENCH_PNGS := /tmp/digitvision-mnist-test-pngs
bench-cli: install
	rm -rf $(BENCH_PNGS)
	$(PY) -m ml.bench --export-test-pngs $(BENCH_PNGS)
	$(PY) manage.py predict --json $(BENCH_PNGS)/*.png > $(BENCH_PNGS)/predictions.jsonl
	$(PY) -m ml.bench --score-predictions $(BENCH_PNGS)/predictions.jsonl

# One whole TrainingRun (database, files, services) on 200 simulated corrections, in a throwaway database.
BENCH_RUN_DIR := /tmp/digitvision-bench-training-run
bench-training-run: install
	rm -rf $(BENCH_RUN_DIR) && mkdir -p $(BENCH_RUN_DIR)
	DATABASE_URL=sqlite:///$(BENCH_RUN_DIR)/db.sqlite3 MEDIA_ROOT=$(BENCH_RUN_DIR)/media sh -c '\
		$(PY) manage.py migrate -v0 && $(PY) manage.py bootstrap && \
		$(PY) manage.py bench_training_run --corrections 200'
