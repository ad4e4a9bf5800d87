# ecnet — every target installs what it needs into .venv first.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
LOCK    := requirements.lock
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
# Workers of `make test` (pytest-xdist; worksteal evens out the long tests). On 2 cores, 3 or
# 4 workers beat 2 when other work shares the machine, and match it when not. N=0: serially.
N       ?= 3
# `make lock` moves every pin to the newest release; `make lock LOCKFLAGS=` keeps the pins
# and only resolves what pyproject.toml changed.
LOCKFLAGS ?= --upgrade
# uv at the version and hashes that requirements.lock pins.
UV_VERSION := $(shell sed -n 's/^uv==\([^ ]*\).*/\1/p' $(LOCK))
UV      := $(BIN)/uv

.PHONY: setup uv lock lowest nation test bench bench-scale bench-cluster proto proto-check lint lib clean

setup: $(STAMP)

# The locked versions exactly (uv pip sync also removes what the lock does not name), then the
# project itself, editable, without dependencies; setuptools, its build backend, is in the lock.
# Bytecode is compiled once here: where PYTHONDONTWRITEBYTECODE is set (CI machines), every
# node and every ecnet command would otherwise compile grpc, rich and the rest from source
# (an ecnet command took 0.6 s instead of 0.35, and make test 190 s instead of 110).
$(STAMP): pyproject.toml $(LOCK) | uv
	$(UV) pip sync --quiet --compile-bytecode --python $(BIN)/python --require-hashes $(LOCK)
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	@touch $@

# Bootstraps uv into .venv with the pip of a plain venv: needs only python3, not uv.
# A venv left without pip (an interrupted creation) is made again.
uv:
	@$(UV) --version 2>/dev/null | grep -qE '^uv $(subst .,\.,$(UV_VERSION))( |$$)' || { \
		$(BIN)/python -m pip --version >/dev/null 2>&1 || $(PY) -m venv --clear $(VENV); \
		awk '/^uv==/ {p=1; print; next} p && /^ / {print; next} {p=0}' $(LOCK) > $(VENV)/uv.txt; \
		$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r $(VENV)/uv.txt; \
	}

# Re-resolves requirements.lock from pyproject.toml (dev extras included), with the hashes of
# every file of each pinned release, for any platform on Python 3.11 and later.
lock: uv
	$(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
		--extra dev $(LOCKFLAGS) --custom-compile-command 'make lock' -o $(LOCK) pyproject.toml

# The tests against the lowest versions pyproject.toml allows for its direct dependencies
# (and the test extra), in .lowest/: checks its lower bounds. `make lowest ARGS=tests/test_sm.py`.
lowest: uv
	@mkdir -p .lowest
	$(UV) pip compile --quiet --python-version 3.11 --resolution lowest-direct --extra test --upgrade \
		--no-header -o .lowest/requirements.txt pyproject.toml
	$(UV) venv --quiet --allow-existing --python $(BIN)/python .lowest/venv
	$(UV) pip sync --quiet --python .lowest/venv/bin/python .lowest/requirements.txt
	$(UV) pip install --quiet --python .lowest/venv/bin/python --no-deps --no-build-isolation -e .
	.lowest/venv/bin/python -m pytest -q -n $(N) --dist worksteal -p no:cacheprovider $(ARGS)

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

# The project's own bytecode first, for the same reason as at setup: the tests start hundreds
# of node and ecnet processes (a stale .pyc is never used: Python checks the source's mtime).
# The console's browser tests write their screenshots to .tools/screenshots/<test>/; they
# are skipped, and the summary says so (-ra) with how to install it, without chromium.
test: $(STAMP) proto-check
	@$(BIN)/python -m compileall -q node federation cli ecnet bench >/dev/null
	CONSOLE_SCREENSHOTS=$(CURDIR)/.tools/screenshots $(BIN)/python -m pytest -q -n $(N) --dist worksteal $(ARGS)

# NationEcTrans of appendix B.1.3 as a C library (lib/nationeccode/), with the system's C
# compiler and OpenSSL (Debian: gcc, libssl-dev): build/libnationeccode.so and the example
# program build/nationeccode-example, which finds the library beside itself ($ORIGIN).
CC      ?= cc
LIB_CFLAGS := -O2 -Wall -Wextra -Werror -fPIC -pthread
LIB_DIR := lib/nationeccode
LIB_SO  := build/libnationeccode.so
LIB_EXAMPLE := build/nationeccode-example

lib: $(LIB_SO) $(LIB_EXAMPLE)

$(LIB_SO): $(LIB_DIR)/nationeccode.c $(LIB_DIR)/nationeccode.h
	@mkdir -p build
	$(CC) -shared $(LIB_CFLAGS) -o $@.tmp $< -lssl -lcrypto && mv -f $@.tmp $@

$(LIB_EXAMPLE): $(LIB_DIR)/example.c $(LIB_DIR)/nationeccode.h $(LIB_SO)
	$(CC) $(LIB_CFLAGS) -o $@.tmp $< -Lbuild -lnationeccode -Wl,-rpath,'$$ORIGIN' && mv -f $@.tmp $@

bench: $(STAMP)
	@$(BIN)/python -m compileall -q node federation cli ecnet bench >/dev/null
	$(BIN)/python -m bench $(ARGS)

# The hot flows on a registry of 10,000 persons and one of SCALE, side by side
# (bench/scale.py, docs/scale.md). Registries are loaded once into .bench/scale/ and kept:
# `make bench-scale SCALE=10000000` loads for about 30 minutes (2 cores) into 11 GB, and
# each run copies it (another 11 GB) for its nodes.
SCALE   ?= 100000
# BACKEND=postgresql: national on an embedded PostgreSQL server, each registry copied there.
BACKEND ?= sqlite
bench-scale: $(STAMP)
	@$(BIN)/python -m compileall -q node federation cli ecnet bench >/dev/null
	$(BIN)/python -m bench.scale --scale $(SCALE) --backend $(BACKEND) $(ARGS)

# National with one and with two replicas on one PostgreSQL database (the embedded server),
# and on SQLite for reference: routed ec.query and remote settlement side by side
# (bench/cluster.py, docs/scale.md). About a minute and a half; figures in .bench/cluster.json.
bench-cluster: $(STAMP)
	@$(BIN)/python -m compileall -q node federation cli ecnet bench >/dev/null
	$(BIN)/python -m bench.cluster $(ARGS)

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
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	@rm -rf .tools/protodeps && mkdir -p .tools/protodeps/google/api
	@cp "$(GOOGLEAPIS)/google/api/field_behavior.proto" .tools/protodeps/google/api/
	$(BUF) lint

clean:
	rm -rf $(VENV) .tools .lowest .bench .pytest_cache nation
