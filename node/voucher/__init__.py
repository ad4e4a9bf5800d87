"""The voucher lifecycle at the national node (standard 6.1, 4.4-4.7), as plain typed
functions over the national store; ``node.services.voucher`` adapts them to gRPC.

- :mod:`.identification`: real-name check, real-person check (pluggable verifier,
  :mod:`.biometric`), the simulated camera;
- :mod:`.activation`: password page, password (:mod:`.password`), activation;
- :mod:`.authorization`: channel authorization, listing, revocation, status;
- :mod:`.registry`: base-registry changes (supersession, insured regions);
- :mod:`.freeze`, :mod:`.events`, :mod:`.idempotency`: the rules they share;
- :mod:`.context`: :class:`Lifecycle` (dependencies) and the shared checks.
"""
