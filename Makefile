# Two commands do everything on a fresh clone: `make book` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
EXECUTED  := $(patsubst notebooks/%,book/executed/%,$(NOTEBOOKS))
SMOKE   ?= False
# Free disk the venv needs (GB): torch and its CUDA libraries take 6.6 GB installed, pip unpacks beside them.
VENV_FREE_GB := 9
# torch's and numpy's CPU kernels pinned to AVX2 in every process of every target, so that any x86-64 CPU
# computes the README's numbers (lib/prunegan/kernels.py sets the same when prunegan is imported before
# torch and numpy). NPY_DISABLE_CPU_FEATURES names numpy 2.4's dispatch targets above AVX2 (X86_V3).
export ATEN_CPU_CAPABILITY ?= avx2
export ONEDNN_MAX_CPU_ISA ?= AVX2
export MKL_CBWR ?= AVX2,STRICT
export OPENBLAS_CORETYPE ?= Haswell
export NPY_DISABLE_CPU_FEATURES ?= X86_V4 AVX512_ICL AVX512_SPR
# CHECK_README=strict: `make book` fails when a README number differs from the build (CI sets it);
# by default the differences are only printed.
CHECK_README ?=
ifneq ($(filter-out strict,$(CHECK_README)),)
$(error CHECK_README is empty or strict, got '$(CHECK_README)')
endif

.PHONY: book replicate test lint venv sync lab benchmark clean distclean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@free=$$(df -Pk . | awk 'NR==2 {print int($$4 / 1048576)}'); if [ "$$free" -lt $(VENV_FREE_GB) ]; then \
	  echo "make venv: $$free GB free on $$(df -P . | awk 'NR==2 {print $$6}'), the venv needs $(VENV_FREE_GB) GB" \
	       "(torch 6.6 GB installed + pip's unpacking); free some space first" >&2; exit 1; fi
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

## Execute every notebook headlessly with papermill (default parameters), then render the HTML book.
book: $(STAMP)
	$(BIN)/python -m prunegan.book execute --smoke $(SMOKE)
	$(BIN)/jupyter-book build . --all -W -n --keep-going
	@echo "Book written to $(CURDIR)/_build/html/index.html"
	$(BIN)/python -m prunegan.book check-readme $(if $(filter strict,$(CHECK_README)),--strict)

## Part 2's independent replicate: chapter 6 with seed=1 (other networks, other seeds of every kind)
## into book/replicates/, then the README check (which quotes both replicates).
replicate: $(STAMP)
	$(BIN)/python -m prunegan.book replicate --name 06_gan --seed 1
	@if [ -d book/executed ]; then $(BIN)/python -m prunegan.book check-readme $(if $(filter strict,$(CHECK_README)),--strict); \
	else echo "README check skipped: run make book to execute replicate 0 (the README quotes both)"; fi

## The whole test suite: ruff, then unit tests, a smoke papermill run of every notebook, the book build.
test: lint
	$(BIN)/python -m pytest

## ruff (configured in pyproject.toml) over the library, tests, benchmarks and notebooks.
lint: $(STAMP)
	$(BIN)/ruff check .

## Bring every notebook pair in step (the newer of NN_name.py / NN_name.ipynb wins), outputs cleared.
sync: $(STAMP)
	$(BIN)/jupytext --sync $(sort $(wildcard notebooks/[0-9][0-9]_*.py))
	$(BIN)/jupyter nbconvert --clear-output --inplace --log-level=WARN notebooks/[0-9][0-9]_*.ipynb
	$(BIN)/python -m prunegan.book check-pairs

## JupyterLab on the notebooks with the jupytext pairing active: saving either file of a pair writes both.
lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/notebooks $(LAB_ARGS)

benchmark: $(STAMP)
	$(BIN)/python benchmarks/evaluation_speed.py

clean:
	rm -rf _build book/executed book/replicates

distclean: clean
	rm -rf results $(VENV)
