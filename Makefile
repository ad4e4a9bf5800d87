# ecnet — every target installs what it needs into .venv first.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PROTOS  := $(wildcard proto/ecnet/v1/*.proto)
ARGS    ?=
# The buf CLI, from the npm package @bufbuild/buf (it ships the binary), installed on
# first use into .tools/ (ignored by git) with the machine's node and npm.
BUF_VERSION := 1.75.0
BUF     := .tools/node_modules/.bin/buf
BUF_STAMP := .tools/.buf-$(BUF_VERSION)
# Where googleapis-common-protos put google/api/field_behavior.proto (its .proto files
# sit beside its generated modules in site-packages).
GOOGLEAPIS = $(shell $(BIN)/python -c 'import pathlib, google.api.field_behavior_pb2 as m; print(pathlib.Path(m.__file__).parents[2])')
# mypy-protobuf types the gRPC stubs and servicers (the *_pb2_grpc.pyi files) that
# grpc_tools writes untyped.
PROTOC   = $(BIN)/python -m grpc_tools.protoc -Iproto -I"$(GOOGLEAPIS)" \
	--plugin=protoc-gen-mypy_grpc=$(BIN)/protoc-gen-mypy_grpc
DESCRIPTOR_SET := ecnet/v1/descriptor_set.binpb

.PHONY: setup nation test bench proto proto-check lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@# A venv left without pip (an interrupted creation) is made again.
	@$(BIN)/python -m pip --version >/dev/null 2>&1 || $(PY) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# Regenerates the Python code of the contracts (committed, so a node needs no protoc),
# and the descriptor set that server reflection answers from (node/reflection.py): the
# Python code keeps no comments, the descriptor set keeps them (source info), so
# `grpcurl describe` shows the documentation of proto/.
proto: $(STAMP)
	$(PROTOC) --python_out=. --pyi_out=. --grpc_python_out=. --mypy_grpc_out=. \
		--include_imports --include_source_info --descriptor_set_out=$(DESCRIPTOR_SET) $(PROTOS)

# Fails when the committed generated code (or descriptor set) does not match proto/.
proto-check: $(STAMP)
	@rm -rf .proto-check && mkdir -p .proto-check/$(dir $(DESCRIPTOR_SET))
	@$(PROTOC) --python_out=.proto-check --pyi_out=.proto-check --grpc_python_out=.proto-check \
		--mypy_grpc_out=.proto-check \
		--include_imports --include_source_info \
		--descriptor_set_out=.proto-check/$(DESCRIPTOR_SET) $(PROTOS)
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

$(BUF_STAMP):
	@command -v npm >/dev/null || { echo "make lint needs node and npm (for the buf CLI)"; exit 1; }
	npm install --prefix .tools --no-save --no-package-lock --no-audit --no-fund \
		--loglevel=error @bufbuild/buf@$(BUF_VERSION)
	@touch $@

# ruff, then buf lint of proto/ (rules and their exceptions in buf.yaml). buf finds
# google/api/field_behavior.proto in the second module of buf.yaml, .tools/protodeps,
# filled here from site-packages: it cannot reach its registry from here.
lint: $(STAMP) $(BUF_STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	@rm -rf .tools/protodeps && mkdir -p .tools/protodeps/google/api
	@cp "$(GOOGLEAPIS)/google/api/field_behavior.proto" .tools/protodeps/google/api/
	$(BUF) lint

clean:
	rm -rf $(VENV) .tools .bench .pytest_cache nation
