"""Message families that cross packages, to and from the rows each role keeps.

- :mod:`.voucher`: ``VoucherData`` and its parts (``Authorization``, ``InsuredRegion``,
  ``Person``): national's snapshot of a voucher, a province's cached copy, and back;
- :mod:`.events`: the ``Event`` of the outbox in its three kinds (voucher changes,
  settlement notices, channel status) and their checks at the receiver.

A family used by one package only keeps its conversions in that package's ``wire``
module (``node.acceptance.wire``, ``node.settlement.wire``). Nothing here does I/O.
"""
