"""Settlement (standard 6.4 b–c, 6.5): policy, ledger, local and remote.

- :mod:`.policy`: the policy of each pooling region (``policy.toml``) and its rounding;
- :mod:`.ledger`: each settlement one transaction with its account, accumulators, token
  use and notices;
- :mod:`.core`: :class:`Settlements`, local or remote, the pending row, the reconciler;
- :mod:`.notice`: the notices of 6.3.2 d; :mod:`.wire`: the settlement messages.
"""
