"""A provincial node's schema: its whole list of migrations, in order.

Names are recorded in each database (see :mod:`node.storage.migrations`): never rename
one, never edit one released; a change is a new ``mNNN_…`` at the end. The queries on
these tables: the voucher cache, the inbox and the notices received in
:mod:`node.storage.provincial`; codes, tokens and terminals in
:mod:`node.storage.acceptance` and :mod:`node.storage.qrcodes`; the ledger in
:mod:`node.storage.settlement`; the outbox in :mod:`node.storage.outbox`.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

from node.storage.db import run_script
from node.storage.migrations import shared

__all__ = ["MIGRATIONS"]

MIGRATIONS = Migrations("ecnet-provincial")


@MIGRATIONS()
def m001_voucher_cache(db: sqlite_utils.Database) -> None:
    """The voucher cache: persons insured here (pushed) and visitors (fetched)."""
    run_script(
        db,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

        CREATE TABLE voucher_cache (
            ec_card_no      TEXT PRIMARY KEY,
            id_type         TEXT NOT NULL,
            id_no           TEXT NOT NULL,
            user_name       TEXT NOT NULL,
            gender          TEXT NOT NULL,
            birthday        TEXT NOT NULL,
            nationality     TEXT NOT NULL,
            -- JSON list of {insuOrg, insuType}.
            insured_regions TEXT NOT NULL,
            state           INTEGER NOT NULL,
            version         INTEGER NOT NULL,
            -- 'pushed' (insured here, delivered by national) or 'fetched' (a visitor).
            source          TEXT NOT NULL CHECK (source IN ('pushed', 'fetched')),
            updated_at      INTEGER NOT NULL
        );
        CREATE INDEX voucher_cache_by_person ON voucher_cache (id_type, id_no);
        """,
    )


@MIGRATIONS()
def m002_inbox(db: sqlite_utils.Database) -> None:
    """Delivered events: position per origin, applied event ids, channel authorizations.

    A duplicate of an older event is caught by the position; ids are the second line,
    for the same event reaching us under another seq (national's outbox already
    refuses a repeat per destination while it keeps the first row: acknowledged rows
    are pruned after the outbox retention, see node.storage.outbox). Past both, a
    repeat is still harmless: a snapshot needs a newer version, a notice a new
    (settlement, state).
    """
    shared.create_inbox_position(db)
    run_script(
        db,
        """
        CREATE TABLE inbox_events (
            event_id   TEXT PRIMARY KEY,
            origin     TEXT NOT NULL,
            seq        INTEGER NOT NULL,
            applied_at INTEGER NOT NULL
        );
        CREATE INDEX inbox_events_by_time ON inbox_events (applied_at);

        -- The channel authorizations of cached vouchers (6.1.4 c), as national last sent them.
        CREATE TABLE channel_auths (
            auth_code     TEXT PRIMARY KEY,
            ec_card_no    TEXT NOT NULL,
            channel_id    TEXT NOT NULL,
            channel_name  TEXT NOT NULL DEFAULT '',
            authorized_at INTEGER,
            revoked       INTEGER NOT NULL DEFAULT 0,
            revoked_at    INTEGER
        );
        CREATE INDEX channel_auths_by_voucher ON channel_auths (ec_card_no, channel_id);
        """,
    )


@MIGRATIONS()
def m003_acceptance(db: sqlite_utils.Database) -> None:
    """QR codes this province issued, ecTokens it issued, the terminals it serves."""
    run_script(
        db,
        """
        -- Codes issued here (6.2). A code is good for one business: exactly one scan
        -- moves it from 'live' to 'used'; a refresh moves the previous one to 'replaced'.
        CREATE TABLE qr_codes (
            code            TEXT PRIMARY KEY,
            ec_card_no      TEXT NOT NULL,
            auth_code       TEXT NOT NULL,
            channel_id      TEXT NOT NULL,
            insu_org        TEXT NOT NULL,
            -- The voucher version the code was issued for (consistency check, 6.3.2 c).
            voucher_version INTEGER NOT NULL,
            issued_at       INTEGER NOT NULL,
            expires_at      INTEGER NOT NULL,
            state           TEXT NOT NULL CHECK (state IN ('live', 'used', 'replaced')),
            used_at         INTEGER,
            -- Terminal (20 digits) or serving province that consumed the code.
            used_by         TEXT
        );
        CREATE INDEX qr_codes_by_auth ON qr_codes (auth_code, state);
        CREATE INDEX qr_codes_by_expiry ON qr_codes (expires_at);

        -- ecTokens issued here as the serving province (6.4): bound to voucher, orgId,
        -- business type and insured region; one settlement per token.
        CREATE TABLE ec_tokens (
            token         TEXT PRIMARY KEY,
            ec_card_no    TEXT NOT NULL,
            org_id        TEXT NOT NULL,
            business_type TEXT NOT NULL,
            insu_org      TEXT NOT NULL,
            id_type       TEXT NOT NULL,
            id_no         TEXT NOT NULL,
            user_name     TEXT NOT NULL,
            issued_at     INTEGER NOT NULL,
            expires_at    INTEGER NOT NULL,
            settled_at    INTEGER
        );
        CREATE INDEX ec_tokens_by_expiry ON ec_tokens (expires_at);

        -- Terminals of this province (table 1), copied from national's registry.
        CREATE TABLE terminals (
            terminal_id TEXT PRIMARY KEY CHECK (length(terminal_id) = 20),
            org_id      TEXT NOT NULL,
            org_name    TEXT NOT NULL,
            name        TEXT NOT NULL,
            mac         TEXT NOT NULL,
            synced_at   INTEGER NOT NULL
        );
        """,
    )


@MIGRATIONS()
def m004_qr_requests(db: sqlite_utils.Database) -> None:
    """Idempotency keys of IssueQrCode / RefreshQrCode (node.storage.qrcodes)."""
    run_script(
        db,
        """
        CREATE TABLE qr_requests (
            channel_id  TEXT NOT NULL,
            method      TEXT NOT NULL,
            request_id  TEXT NOT NULL,
            -- SM3 of the request's fields: the same key with another request is -2.
            fingerprint TEXT NOT NULL,
            code        TEXT NOT NULL,
            created_at  INTEGER NOT NULL,
            PRIMARY KEY (channel_id, method, request_id)
        );
        CREATE INDEX qr_requests_by_time ON qr_requests (created_at);
        """,
    )


@MIGRATIONS()
def m005_settlement(db: sqlite_utils.Database) -> None:
    """The settlement ledger (node.storage.settlement): settlements, personal accounts,
    the yearly accumulators of each person per pooling region."""
    run_script(
        db,
        """
        CREATE TABLE settlements (
            settlement_id    TEXT PRIMARY KEY,
            kind             TEXT NOT NULL CHECK (kind IN ('local', 'serving', 'insured')),
            state            TEXT NOT NULL CHECK (state IN ('pending', 'settled', 'reversed')),
            serving_province TEXT NOT NULL,
            org_id           TEXT NOT NULL,
            request_id       TEXT NOT NULL,
            -- SHA-256 of the request's content: the same key with other content is refused.
            request_digest   TEXT NOT NULL,
            ec_token         TEXT NOT NULL,
            ec_card_no       TEXT NOT NULL,
            id_type          TEXT NOT NULL,
            id_no            TEXT NOT NULL,
            user_name        TEXT NOT NULL,
            insu_org         TEXT NOT NULL,
            settled_by       TEXT NOT NULL,
            med_type         TEXT NOT NULL,
            items            TEXT NOT NULL,
            year             INTEGER NOT NULL,
            fee_sumamt       INTEGER NOT NULL,
            fund_pay         INTEGER NOT NULL DEFAULT 0,
            psn_acct_pay     INTEGER NOT NULL DEFAULT 0,
            own_pay_amt      INTEGER NOT NULL DEFAULT 0,
            deductible_part  INTEGER NOT NULL DEFAULT 0,
            acct_balance     INTEGER NOT NULL DEFAULT 0,
            created_at       INTEGER NOT NULL,
            settled_at       INTEGER,
            reversed_at      INTEGER,
            reverse_request_id TEXT NOT NULL DEFAULT '',
            CHECK (state = 'pending' OR fee_sumamt = fund_pay + psn_acct_pay + own_pay_amt),
            UNIQUE (serving_province, org_id, request_id)
        );
        CREATE INDEX settlements_pending ON settlements (created_at) WHERE state = 'pending';

        -- Personal accounts (个人账户) of persons insured here, per pooling region.
        CREATE TABLE personal_accounts (
            id_type    TEXT NOT NULL,
            id_no      TEXT NOT NULL,
            insu_org   TEXT NOT NULL,
            balance    INTEGER NOT NULL CHECK (balance >= 0),
            opened_at  INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (id_type, id_no, insu_org)
        );

        -- A person's year in a pooling region: deductible used, fund paid.
        CREATE TABLE accumulators (
            id_type         TEXT NOT NULL,
            id_no           TEXT NOT NULL,
            insu_org        TEXT NOT NULL,
            year            INTEGER NOT NULL,
            deductible_paid INTEGER NOT NULL CHECK (deductible_paid >= 0),
            fund_paid       INTEGER NOT NULL CHECK (fund_paid >= 0),
            PRIMARY KEY (id_type, id_no, insu_org, year)
        );
        """,
    )


@MIGRATIONS()
def m006_settlement_notices(db: sqlite_utils.Database) -> None:
    """Settlement notices (6.3.2 d): the outbox this province sends them through (to
    national, which relays them) and the notices received from the other insured
    provinces of a person."""
    shared.create_outbox(db)
    run_script(
        db,
        """
        CREATE TABLE settlement_notices (
            settlement_id TEXT NOT NULL,
            -- 'settled' (version 1) or 'reversed' (version 2): both rows are kept.
            state         TEXT NOT NULL CHECK (state IN ('settled', 'reversed')),
            version       INTEGER NOT NULL,
            ec_card_no    TEXT NOT NULL,
            id_type       TEXT NOT NULL,
            id_no         TEXT NOT NULL,
            insu_org      TEXT NOT NULL,
            settled_by    TEXT NOT NULL,
            med_type      TEXT NOT NULL,
            fee_sumamt    INTEGER NOT NULL,
            fund_pay      INTEGER NOT NULL,
            psn_acct_pay  INTEGER NOT NULL,
            own_pay_amt   INTEGER NOT NULL,
            at_ms         INTEGER NOT NULL,
            received_at   INTEGER NOT NULL,
            PRIMARY KEY (settlement_id, state)
        );
        CREATE INDEX settlement_notices_by_person ON settlement_notices (id_type, id_no, at_ms);
        """,
    )


@MIGRATIONS()
def m007_inbox_epoch(db: sqlite_utils.Database) -> None:
    """The epoch of each origin's outbox that its applied position counts in."""
    shared.add_inbox_epoch(db)


@MIGRATIONS()
def m008_reversals_pending(db: sqlite_utils.Database) -> None:
    """Remote reversals asked of the insured province and not yet confirmed (a
    time-out), so that the reconciler asks again (the reversal is idempotent there)."""
    run_script(
        db,
        """
        CREATE TABLE reversals_pending (
            settlement_id TEXT PRIMARY KEY REFERENCES settlements (settlement_id),
            request_id    TEXT NOT NULL,
            asked_at      INTEGER NOT NULL
        );
        """,
    )


@MIGRATIONS()
def m009_outbox_parking(db: sqlite_utils.Database) -> None:
    """Parked outbox events and the narrowing of a refused batch."""
    shared.add_outbox_parking(db)


@MIGRATIONS()
def m010_account_injected_year(db: sqlite_utils.Database) -> None:
    """The last year each personal account was credited with its yearly injection
    (node.settlement.ledger); accounts opened before this migration were credited in
    the year they opened (Beijing time, as the ledger counts years)."""
    run_script(
        db,
        """
        ALTER TABLE personal_accounts ADD COLUMN injected_year INTEGER NOT NULL DEFAULT 0;
        UPDATE personal_accounts
           SET injected_year =
               CAST(strftime('%Y', opened_at / 1000 + 28800, 'unixepoch') AS INTEGER);
        """,
        postgresql="""
        ALTER TABLE personal_accounts ADD COLUMN injected_year INTEGER NOT NULL DEFAULT 0;
        UPDATE personal_accounts
           SET injected_year = CAST(EXTRACT(YEAR FROM
               to_timestamp(opened_at / 1000 + 28800) AT TIME ZONE 'UTC') AS INTEGER);
        """,
    )


@MIGRATIONS()
def m011_channel_status(db: sqlite_utils.Database) -> None:
    """The status of each channel national's management center changed (channel.status
    events): a channel not listed is approved."""
    run_script(
        db,
        """
        CREATE TABLE channel_status (
            channel_id TEXT PRIMARY KEY,
            status     TEXT NOT NULL CHECK (status IN ('approved', 'suspended')),
            reason     TEXT NOT NULL,
            version    INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        );
        """,
    )


@MIGRATIONS()
def m012_settlements_by_day(db: sqlite_utils.Database) -> None:
    """The day's settlements and reversals of an institution, and of the whole province
    (the reconciliation of node.storage.settlement: ``q_day_settlements``,
    ``q_day_totals``), found by time range instead of a scan of the ledger. Rows settled
    here for other provinces' institutions (``insured``) are not theirs to close."""
    run_script(
        db,
        """
        CREATE INDEX settlements_by_org_day ON settlements (org_id, settled_at)
            WHERE kind <> 'insured';
        CREATE INDEX settlements_by_day ON settlements (settled_at)
            WHERE kind <> 'insured';
        CREATE INDEX settlements_reversed_by_org_day ON settlements (org_id, reversed_at)
            WHERE kind <> 'insured' AND reversed_at IS NOT NULL;
        CREATE INDEX settlements_reversed_by_day ON settlements (reversed_at)
            WHERE kind <> 'insured' AND reversed_at IS NOT NULL;
        """,
    )


@MIGRATIONS()
def m013_secrets_at_rest(db: sqlite_utils.Database) -> None:
    """Secrets at rest (``node.vault``): the authorizations of cached vouchers and the QR
    codes issued are found by the keyed hash of the authorization code (``code_hash``,
    HMAC-SM3 under the province's key of the code's digest); rows of an older database
    (a raw code of 32 digits) are converted at the node's first start with its master
    key (``node.storage.secrets.q_protect_provincial``). ``auths_version``: the voucher
    version the cached authorizations are of, since a routed scan refreshes a cached
    voucher without its authorizations (none travel in its answer)."""
    run_script(
        db,
        """
        ALTER TABLE channel_auths RENAME COLUMN auth_code TO code_hash;
        ALTER TABLE qr_codes RENAME COLUMN auth_code TO code_hash;
        ALTER TABLE voucher_cache ADD COLUMN auths_version INTEGER;
        UPDATE voucher_cache SET auths_version = version;
        """,
    )


@MIGRATIONS()
def m014_audit_log(db: sqlite_utils.Database) -> None:
    """The append-only audit log (``node.storage.audit``)."""
    shared.create_audit_log(db)


@MIGRATIONS()
def m015_channel_keys(db: sqlite_utils.Database) -> None:
    """Signed channel calls: each channel's SM2 public key (hexadecimal) and scopes, as
    national last told this province (``channel.status`` events carry them). A channel
    this province was not told of is unknown here: its calls are refused."""
    run_script(
        db,
        """
        ALTER TABLE channel_status ADD COLUMN public_key TEXT NOT NULL DEFAULT '';
        ALTER TABLE channel_status ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
        """,
    )


@MIGRATIONS()
def m016_channel_sm4_keys(db: sqlite_utils.Database) -> None:
    """The channel door (the open platform's envelope) and SM4-encrypted fields at a
    province: each channel's SM4 key as national last told this province
    (``channel.status`` events carry it), sealed with the province's vault
    (``node.storage.provincial.channels``); empty until national tells it."""
    run_script(
        db,
        """
        ALTER TABLE channel_status ADD COLUMN sm4_sealed BLOB NOT NULL DEFAULT x'';
        """,
    )


@MIGRATIONS()
def m017_figures(db: sqlite_utils.Database) -> None:
    """The management center's figures (``node.storage.figures``): the calls counted per
    hour; the QR codes issued per hour and channel (the codes themselves are deleted
    after their retention; the count stays), counted in the issue's transaction; the
    scans found by their time."""
    shared.create_call_tally(db)
    run_script(
        db,
        """
        CREATE TABLE qr_issued (
            hour       INTEGER NOT NULL,
            channel_id TEXT NOT NULL,
            count      INTEGER NOT NULL CHECK (count > 0),
            PRIMARY KEY (hour, channel_id)
        ) WITHOUT ROWID;
        CREATE INDEX ec_tokens_by_issue ON ec_tokens (issued_at);
        """,
    )
