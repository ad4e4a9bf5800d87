"""A provincial node's storage: the voucher cache and its channel authorizations, the
inbox of events delivered by national, the channel statuses and the settlement notices
it delivers, one module per concern:

* :mod:`.vouchers`: the voucher cache and the channel authorizations of each voucher;
* :mod:`.inbox`: applying a delivered batch, once, in one transaction;
* :mod:`.notices`: settlement notices received from other provinces;
* :mod:`.channels`: each channel's status as national last told it;
* :mod:`.store`: :class:`ProvincialStore`, coroutine access for the node.

The rest of a province's SQL: codes, tokens and terminals in
:mod:`node.storage.acceptance`, the issue of QR codes in :mod:`node.storage.qrcodes`,
the ledger in :mod:`node.storage.settlement`, the outbox (the notices this province
sends, through national) in :mod:`node.storage.outbox`, ``meta`` in
:mod:`node.storage.meta`. The schema is :mod:`node.storage.migrations.provincial`.
Every public name is re-exported here.
"""

from node.storage.migrations.provincial import MIGRATIONS
from node.storage.provincial.channels import ChannelStatus, q_channel_status, q_put_channel_status
from node.storage.provincial.inbox import (
    EVENT_ID_RETENTION_MS,
    ApplyResult,
    InboundEvent,
    q_apply_events,
)
from node.storage.provincial.notices import (
    NOTICE_VERSIONS,
    Notice,
    ReceivedNotice,
    q_list_notices,
    q_put_notice,
)
from node.storage.provincial.store import COUNTED_TABLES, ProvincialStore
from node.storage.provincial.vouchers import (
    AuthMatch,
    AuthRow,
    CachedVoucher,
    VoucherSnapshot,
    q_authorizations_of,
    q_get_by_code_hash,
    q_get_voucher,
    q_put_voucher,
)

__all__ = [
    # the store, the schema
    "ProvincialStore",
    "MIGRATIONS",
    "COUNTED_TABLES",
    # the voucher cache
    "AuthRow",
    "VoucherSnapshot",
    "CachedVoucher",
    "AuthMatch",
    "q_put_voucher",
    "q_get_voucher",
    "q_authorizations_of",
    "q_get_by_code_hash",
    # the inbox
    "InboundEvent",
    "ApplyResult",
    "EVENT_ID_RETENTION_MS",
    "q_apply_events",
    # notices received
    "Notice",
    "ReceivedNotice",
    "NOTICE_VERSIONS",
    "q_put_notice",
    "q_list_notices",
    # channel status
    "ChannelStatus",
    "q_put_channel_status",
    "q_channel_status",
]
