"""The national node's storage: base registry, vouchers, channels, terminals, directory.

All SQL of the national role lives in this package, one module per concern:

* :mod:`.registry`: persons and the pooling regions each is insured in;
* :mod:`.vouchers`: vouchers, their channel authorizations, the provinces told;
* :mod:`.activation`: activation serials, liveness samples seen, idempotency keys;
* :mod:`.channels`: channels and their status, the terminal registry;
* :mod:`.directory`: the node directory of the provinces;
* :mod:`.relay`: events the provinces deliver, relayed through the outbox;
* :mod:`.store`: :class:`NationalStore`, coroutine access for the node;
* :mod:`.seeder`: :class:`NationalSeeder`, synchronous bulk access for seeding.

The schema is :mod:`node.storage.migrations.national`; the ``meta`` table's queries
are :mod:`node.storage.meta`, the outbox's :mod:`node.storage.outbox`. Functions named
``q_*`` run on a connection handed to them by :class:`~node.storage.db.Database` (a
reader thread, or the writer inside a transaction: ``NationalStore.query`` /
``NationalStore.transact``). Every public name is re-exported here, so callers write
``from node.storage import national as q`` and ``q.q_person(conn, ...)``.
"""

from node.storage.meta import q_meta_get, q_meta_init
from node.storage.migrations.national import MIGRATIONS
from node.storage.national.activation import (
    SerialRow,
    q_idempotent_get,
    q_idempotent_put,
    q_insert_serial,
    q_liveness_seen,
    q_prune,
    q_record_liveness,
    q_serial,
    q_serial_attempt,
    q_use_serial,
)
from node.storage.national.channels import (
    ApplicationRow,
    ChannelRow,
    TerminalRow,
    q_application,
    q_channel,
    q_count_applications,
    q_decide_application,
    q_insert_application,
    q_insert_terminals,
    q_list_applications,
    q_list_channels,
    q_list_terminals,
    q_mark_announced,
    q_put_channel,
    q_revoke_terminal,
    q_set_channel_status,
    q_terminal,
    q_terminal_count,
    q_terminal_provinces,
    q_told_without_sm4,
    q_unannounced_channels,
    q_upsert_channels,
)
from node.storage.national.directory import (
    NodeRow,
    q_deregister,
    q_get_node,
    q_heartbeat,
    q_list_nodes,
    q_put_node,
)
from node.storage.national.registry import (
    PersonRow,
    PersonSeed,
    RegionRow,
    q_face_template,
    q_insert_persons,
    q_list_persons,
    q_person,
    q_person_by_id,
    q_replace_regions,
    q_update_identity,
)
from node.storage.national.relay import RelayEvent, RelayResult, q_relay_events
from node.storage.national.seeder import NationalSeeder
from node.storage.national.store import COUNTED_TABLES, NationalStore
from node.storage.national.vouchers import (
    AuthRow,
    VoucherRow,
    q_active_authorization,
    q_add_voucher_province,
    q_authorization,
    q_authorizations,
    q_insert_authorization,
    q_lapsed_freezes,
    q_live_voucher,
    q_put_voucher,
    q_revoke_all,
    q_revoke_authorization,
    q_set_failed_attempts,
    q_voucher,
    q_voucher_provinces,
)

__all__ = [
    # the store, the seeder, the schema
    "NationalStore",
    "NationalSeeder",
    "MIGRATIONS",
    "COUNTED_TABLES",
    # rows
    "PersonRow",
    "PersonSeed",
    "RegionRow",
    "ChannelRow",
    "TerminalRow",
    "NodeRow",
    "VoucherRow",
    "AuthRow",
    "SerialRow",
    "RelayEvent",
    "RelayResult",
    # meta
    "q_meta_get",
    "q_meta_init",
    # registry
    "q_list_persons",
    "q_person",
    "q_person_by_id",
    "q_face_template",
    "q_insert_persons",
    "q_update_identity",
    "q_replace_regions",
    # vouchers and authorizations
    "q_voucher",
    "q_live_voucher",
    "q_lapsed_freezes",
    "q_put_voucher",
    "q_set_failed_attempts",
    "q_authorizations",
    "q_authorization",
    "q_active_authorization",
    "q_insert_authorization",
    "q_revoke_authorization",
    "q_revoke_all",
    "q_voucher_provinces",
    "q_add_voucher_province",
    # activation
    "q_insert_serial",
    "q_serial",
    "q_use_serial",
    "q_serial_attempt",
    "q_liveness_seen",
    "q_record_liveness",
    "q_idempotent_get",
    "q_idempotent_put",
    "q_prune",
    # channels and terminals
    "q_channel",
    "ApplicationRow",
    "q_application",
    "q_count_applications",
    "q_decide_application",
    "q_insert_application",
    "q_list_applications",
    "q_mark_announced",
    "q_told_without_sm4",
    "q_put_channel",
    "q_unannounced_channels",
    "q_list_channels",
    "q_upsert_channels",
    "q_set_channel_status",
    "q_insert_terminals",
    "q_list_terminals",
    "q_terminal_provinces",
    "q_terminal",
    "q_terminal_count",
    "q_revoke_terminal",
    # node directory
    "q_get_node",
    "q_list_nodes",
    "q_put_node",
    "q_heartbeat",
    "q_deregister",
    # relay
    "q_relay_events",
]
