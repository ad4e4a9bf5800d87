# ecnet — every target installs what it needs into .venv first.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PROTOS  := $(wildcard proto/ecnet/v1/*.proto)
ARGS    ?=

.PHONY: setup nation test bench proto proto-check lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@# A venv left without pip (an interrupted creation) is made again.
	@$(BIN)/python -m pip --version >/dev/null 2>&1 || $(PY) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# Regenerates the Python code of the contracts (committed, so a node needs no protoc).
proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=. --pyi_out=. \
		--grpc_python_out=. $(PROTOS)

# Fails when the committed generated code does not match the .proto files.
proto-check: $(STAMP)
	@rm -rf .proto-check && mkdir -p .proto-check
	@$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=.proto-check \
		--pyi_out=.proto-check --grpc_python_out=.proto-check $(PROTOS)
	@for f in .proto-check/ecnet/v1/*; do \
		cmp -s $$f ecnet/v1/$$(basename $$f) || { echo "stale generated code: ecnet/v1/$$(basename $$f) (run make proto)"; exit 1; }; \
	done; echo "generated code matches proto/"
	@rm -rf .proto-check

# Brings up a simulated nation (national + provinces 11,31,44,51) in ./nation.
nation: $(STAMP)
	$(BIN)/ecnet nation up $(ARGS)

test: $(STAMP) proto-check
	$(BIN)/python -m pytest -q $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .bench .pytest_cache nation
