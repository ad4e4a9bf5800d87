"""Federation: how nodes find and talk to each other through the national hub.

* ``directory`` — national's node directory: which province is served where, and
  whether it is alive (registrations, heartbeats, a lease, a liveness probe).
* ``registrar`` — a provincial node's side: register at start, heartbeat, deregister.
* ``client`` — typed stubs to another node, with the caller metadata set.
"""
