"""The benchmark harness of ecnet (``make bench``, ``python -m bench``).

Speed is reported as a ratio to a no-op gRPC call (``AdminService/Ping``) measured in
the same run on the same machine: absolute times drift (two shared cores). Benchmarks
are never timed assertions in tests.

Modules:

* :mod:`bench.load`: the load generator (``run_load(call, concurrency=, seconds=)``).
* :mod:`bench.nodes`: node processes (``python -m node --quiet``), ports, stopping.
* :mod:`bench.env`: what a scenario's setup gets: seeded nodes started on demand.
* :mod:`bench.scenarios`: the registry; add a scenario with ``@scenario("name")``.
* :mod:`bench.runner`: baseline, scenarios, baseline again; stops every node.
* :mod:`bench.nation`: timing ``ecnet nation up --detach``; :mod:`bench.seeding`.
* :mod:`bench.report`: the rich table and ``.bench/last.json``.
"""
