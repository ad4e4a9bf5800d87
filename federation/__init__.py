"""Federation: how nodes find and talk to each other through the national hub.

It knows nothing of vouchers, codes or settlements as business: the business packages
reach it through small protocols (``node.qr.issuer.VoucherSource``,
``node.acceptance.scan.NationalPort``, ``node.settlement.core.InsuredPort``) that the
composition root (``node.components``) fills with a :class:`~federation.client.NationalClient`.

* ``client`` — a channel and stubs to another node with the caller's metadata; a
  province's :class:`~federation.client.NationalClient`; ``stubs`` — those stubs typed;
* ``link`` — the routed calls multiplexed on one long-lived stream per pair of nodes;
* ``directory`` — national's node directory: which province is served where, and
  whether it is alive (registrations, heartbeats, a lease, a liveness probe);
* ``registrar`` — a province's side: register at start, heartbeat, deregister;
* ``hub`` and ``forward`` — national forwarding a routed call to the one province
  that may answer it;
* ``delivery`` — the durable delivery of a node's outbox (national to the provinces,
  a province's uplink to national);
* ``inbox`` — a province applying what national delivers; ``relay`` — national
  relaying the provinces' settlement notices.
"""
