"""The national node's schema: its whole list of migrations, in order.

Names are recorded in each database (see :mod:`node.storage.migrations`): never rename
one, never edit one released; a change is a new ``mNNN_…`` at the end. The queries on
these tables are in :mod:`node.storage.national`; the outbox's in
:mod:`node.storage.outbox`.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

from node.storage.db import run_script
from node.storage.migrations import shared

__all__ = ["MIGRATIONS"]

MIGRATIONS = Migrations("ecnet-national")


@MIGRATIONS()
def m001_registry(db: sqlite_utils.Database) -> None:
    """Base registry, vouchers, channel authorizations, channels, terminals, directory."""
    run_script(
        db,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

        -- 人员基础信息: the national base registry of persons.
        CREATE TABLE persons (
            person_id     INTEGER PRIMARY KEY,
            user_name     TEXT NOT NULL,
            id_type       TEXT NOT NULL,
            id_no         TEXT NOT NULL,
            gender        TEXT NOT NULL,
            birthday      TEXT NOT NULL,
            nationality   TEXT NOT NULL,
            phone         TEXT NOT NULL DEFAULT '',
            -- Enrolled biometric template for the real-person check (simulated).
            face_template BLOB,
            updated_at    INTEGER NOT NULL,
            UNIQUE (id_type, id_no)
        );

        -- 参保地: a person may be insured in several pooling regions.
        CREATE TABLE insured_regions (
            person_id INTEGER NOT NULL REFERENCES persons(person_id),
            insu_org  TEXT NOT NULL,
            insu_type TEXT NOT NULL,
            PRIMARY KEY (person_id, insu_org)
        ) WITHOUT ROWID;
        CREATE INDEX insured_regions_by_org ON insured_regions (insu_org, person_id);

        -- The 64-character electronic voucher of a person.
        CREATE TABLE vouchers (
            ec_card_no      TEXT PRIMARY KEY,
            person_id       INTEGER NOT NULL REFERENCES persons(person_id),
            state           INTEGER NOT NULL,
            password_hash   BLOB,
            password_salt   BLOB,
            failed_attempts INTEGER NOT NULL DEFAULT 0,
            frozen_until    INTEGER,
            version         INTEGER NOT NULL DEFAULT 1,
            created_at      INTEGER NOT NULL,
            activated_at    INTEGER,
            updated_at      INTEGER NOT NULL
        );
        CREATE INDEX vouchers_by_person ON vouchers (person_id);

        -- 个人渠道授权码: one authorization per voucher and channel.
        CREATE TABLE authorizations (
            auth_code   TEXT PRIMARY KEY,
            ec_card_no  TEXT NOT NULL REFERENCES vouchers(ec_card_no),
            channel_id  TEXT NOT NULL REFERENCES channels(channel_id),
            created_at  INTEGER NOT NULL,
            revoked_at  INTEGER
        );
        CREATE INDEX authorizations_by_voucher ON authorizations (ec_card_no, channel_id);

        CREATE TABLE channels (
            channel_id  TEXT PRIMARY KEY,
            name        TEXT NOT NULL,
            kind        TEXT NOT NULL CHECK (kind IN ('official', 'third_party')),
            status      TEXT NOT NULL,
            public_key  TEXT NOT NULL DEFAULT '',
            created_at  INTEGER NOT NULL
        );

        -- 终端登记信息 (table 1 of the standard).
        CREATE TABLE terminals (
            terminal_id   TEXT PRIMARY KEY CHECK (length(terminal_id) = 20),
            province      TEXT NOT NULL,
            org_id        TEXT NOT NULL,
            org_name      TEXT NOT NULL,
            name          TEXT NOT NULL,
            purpose       TEXT NOT NULL,
            version       TEXT NOT NULL,
            developer     TEXT NOT NULL,
            registered_on TEXT NOT NULL,
            mac           TEXT NOT NULL
        );
        CREATE INDEX terminals_by_province ON terminals (province, terminal_id);

        -- The node directory: every province that registered with this hub.
        CREATE TABLE node_directory (
            province          TEXT PRIMARY KEY,
            address           TEXT NOT NULL,
            version           TEXT NOT NULL,
            instance_id       TEXT NOT NULL,
            state             TEXT NOT NULL CHECK (state IN ('up', 'stopped')),
            registered_at     INTEGER NOT NULL,
            last_heartbeat_at INTEGER NOT NULL,
            applied_position  INTEGER NOT NULL DEFAULT 0
        );
        """,
    )


@MIGRATIONS()
def m002_outbox(db: sqlite_utils.Database) -> None:
    """The outbox of voucher changes for the provinces, and its delivery cursors."""
    shared.create_outbox(db)


@MIGRATIONS()
def m003_lifecycle(db: sqlite_utils.Database) -> None:
    """Activation flows, seen liveness samples, supersession and freeze state, the
    provinces told about a voucher, idempotency keys (standard 6.1)."""
    run_script(
        db,
        """
        ALTER TABLE vouchers ADD COLUMN password_iterations INTEGER;
        ALTER TABLE vouchers ADD COLUMN frozen_at INTEGER;
        ALTER TABLE vouchers ADD COLUMN superseded_by TEXT;
        ALTER TABLE vouchers ADD COLUMN superseded_at INTEGER;
        -- At most one live (not superseded, state 4) voucher per person.
        CREATE UNIQUE INDEX vouchers_live_by_person ON vouchers (person_id) WHERE state != 4;

        -- The steps of an activation: each a serial bound to person and channel, with
        -- an expiry and a used flag. kind: real_name -> real_person -> password_page
        -- (third parties) -> password; parent is the serial a step was made from.
        CREATE TABLE activation_serials (
            serial              TEXT PRIMARY KEY,
            kind                TEXT NOT NULL
                                CHECK (kind IN ('real_name', 'real_person', 'password_page',
                                                'password')),
            person_id           INTEGER NOT NULL REFERENCES persons(person_id),
            channel_id          TEXT NOT NULL,
            parent              TEXT,
            -- SM3 tag of id type, id number and name when the flow began: a registry
            -- change during the flow ends it (500058).
            identity_tag        TEXT NOT NULL,
            challenge           TEXT,
            password_hash       BLOB,
            password_salt       BLOB,
            password_iterations INTEGER,
            attempts            INTEGER NOT NULL DEFAULT 0,
            created_at          INTEGER NOT NULL,
            expires_at          INTEGER NOT NULL,
            used_at             INTEGER
        );
        CREATE INDEX activation_serials_by_expiry ON activation_serials (expires_at);

        -- SM3 digests of accepted liveness samples: a replay is refused (500096).
        CREATE TABLE liveness_seen (
            digest  BLOB PRIMARY KEY,
            seen_at INTEGER NOT NULL
        );
        CREATE INDEX liveness_seen_by_time ON liveness_seen (seen_at);

        -- Business-place provinces told about a voucher: later changes reach them too.
        CREATE TABLE voucher_provinces (
            ec_card_no TEXT NOT NULL,
            province   TEXT NOT NULL,
            PRIMARY KEY (ec_card_no, province)
        ) WITHOUT ROWID;

        -- Idempotency keys (AIP-155): a repeated requestId answers the first result.
        CREATE TABLE idempotency (
            channel_id  TEXT NOT NULL,
            method      TEXT NOT NULL,
            request_id  TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            result      TEXT NOT NULL,
            created_at  INTEGER NOT NULL,
            PRIMARY KEY (channel_id, method, request_id)
        );
        CREATE INDEX idempotency_by_time ON idempotency (created_at);
        """,
    )


@MIGRATIONS()
def m004_frozen_index(db: sqlite_utils.Database) -> None:
    """Frozen vouchers by the end of their freeze: the on-time lift finds them with an
    index over the few frozen rows, not a scan of every voucher."""
    run_script(db, "CREATE INDEX vouchers_frozen ON vouchers (frozen_until) WHERE state = 3;")


@MIGRATIONS()
def m005_relay_inbox(db: sqlite_utils.Database) -> None:
    """Events delivered by the provinces (settlement notices, 6.3.2 d), which national
    relays through its outbox: the highest outbox seq of each origin ("pNN") relayed."""
    shared.create_inbox_position(db)


@MIGRATIONS()
def m006_inbox_epoch(db: sqlite_utils.Database) -> None:
    """The epoch of each origin's outbox that its relayed position counts in."""
    shared.add_inbox_epoch(db)


@MIGRATIONS()
def m007_outbox_parking(db: sqlite_utils.Database) -> None:
    """Parked outbox events and the narrowing of a refused batch."""
    shared.add_outbox_parking(db)


@MIGRATIONS()
def m008_channel_status(db: sqlite_utils.Database) -> None:
    """Channel control (node.voucher.channels): why the status last changed, when, and
    its version (the provinces keep the newest they were told)."""
    run_script(
        db,
        """
        ALTER TABLE channels ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
        ALTER TABLE channels ADD COLUMN status_version INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE channels ADD COLUMN status_changed_at INTEGER;
        """,
    )


@MIGRATIONS()
def m009_node_sign_key(db: sqlite_utils.Database) -> None:
    """Each province's SM2 public key, which verifies the events it originates (its
    settlement notices, node.wire.signing); sent with every Register."""
    run_script(db, "ALTER TABLE node_directory ADD COLUMN sign_key BLOB NOT NULL DEFAULT x'';")


@MIGRATIONS()
def m010_secrets_at_rest(db: sqlite_utils.Database) -> None:
    """Secrets at rest (``node.vault``). An authorization is found by the keyed hash of
    its code (``code_hash``, HMAC-SM3 under the node's key of the code's digest), and
    keeps the digest that events carry sealed (``code_digest``); a face template is
    kept sealed (``face_sealed``). The key is not in the database: rows of an older
    database (a raw code of 32 digits in ``code_hash``, a raw ``face_template``, an
    answer kept for a requestId with its code, an outbox event with codes) are
    converted at the node's first start with its master key
    (``node.storage.secrets.q_protect_national``)."""
    run_script(
        db,
        """
        ALTER TABLE authorizations RENAME COLUMN auth_code TO code_hash;
        ALTER TABLE authorizations ADD COLUMN code_digest BLOB;
        ALTER TABLE persons ADD COLUMN face_sealed BLOB;
        CREATE INDEX persons_face_unsealed ON persons (person_id)
            WHERE face_template IS NOT NULL;
        """,
    )


@MIGRATIONS()
def m011_audit_log(db: sqlite_utils.Database) -> None:
    """The append-only audit log (``node.storage.audit``)."""
    shared.create_audit_log(db)


@MIGRATIONS()
def m012_terminal_revocation(db: sqlite_utils.Database) -> None:
    """Terminals registered at the management center can be revoked (AdminService
    RevokeTerminal): when and why; a revoked terminal is no longer copied to its
    province. Registrations allocate numbers by province and year (the index)."""
    run_script(
        db,
        """
        ALTER TABLE terminals ADD COLUMN revoked_at INTEGER;
        ALTER TABLE terminals ADD COLUMN revoke_reason TEXT NOT NULL DEFAULT '';
        """,
    )


@MIGRATIONS()
def m013_channel_keys(db: sqlite_utils.Database) -> None:
    """Signed channel calls (4.3, 4.6; node.domain.channelsig): each channel's scopes (the
    methods it may call, comma-separated), the version of its SM2 key (a rotation adds
    one; ``public_key`` is the key, hexadecimal), and the record version the provinces
    were last told (``announced_version``; national tells them at start what they miss,
    seeded channels included). The applications of channels, made through a province
    and decided here."""
    run_script(
        db,
        """
        ALTER TABLE channels ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
        ALTER TABLE channels ADD COLUMN key_version INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE channels ADD COLUMN announced_version INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE channel_applications (
            application_id TEXT PRIMARY KEY,
            province       TEXT NOT NULL,
            name           TEXT NOT NULL,
            public_key     TEXT NOT NULL,
            scopes         TEXT NOT NULL,
            status         TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
            app_id         TEXT NOT NULL DEFAULT '',
            reason         TEXT NOT NULL DEFAULT '',
            applied_at     INTEGER NOT NULL,
            decided_at     INTEGER
        );
        """,
    )


@MIGRATIONS()
def m014_channel_sm4_announced(db: sqlite_utils.Database) -> None:
    """Whether the provinces were told a channel's record with its SM4 key
    (``sm4_announced``; the ``channel.status`` event carries it since this migration).
    National tells them again at start, under a new record version, each record told
    before without it (``node.voucher.channels.announce_channels``)."""
    run_script(
        db,
        """
        ALTER TABLE channels ADD COLUMN sm4_announced INTEGER NOT NULL DEFAULT 0;
        """,
    )


@MIGRATIONS()
def m015_console(db: sqlite_utils.Database) -> None:
    """The management console's people and sessions (``node.storage.console``): each
    operator's console password (scrypt hash and its own salt; ``must_change`` until the
    first login replaces a one-time password), an administrator's TOTP secret sealed
    under the node's key, wrong passwords counted towards a lock; the sessions of the
    browsers logged in, by the SM3 digest of their random id, with their CSRF token."""
    run_script(
        db,
        """
        CREATE TABLE console_operators (
            name          TEXT PRIMARY KEY,
            duty          TEXT NOT NULL,
            pw_salt       BLOB NOT NULL,
            pw_hash       BLOB NOT NULL,
            must_change   INTEGER NOT NULL DEFAULT 1,
            totp_sealed   BLOB,
            failures      INTEGER NOT NULL DEFAULT 0,
            locked_until  INTEGER NOT NULL DEFAULT 0,
            changed_at    INTEGER NOT NULL
        );
        CREATE TABLE console_sessions (
            id_digest     TEXT PRIMARY KEY,
            name          TEXT NOT NULL REFERENCES console_operators (name) ON DELETE CASCADE,
            csrf          TEXT NOT NULL,
            created_at    INTEGER NOT NULL,
            expires_at    INTEGER NOT NULL
        );
        CREATE INDEX console_sessions_name ON console_sessions (name);
        """,
    )


@MIGRATIONS()
def m016_console_totp_step(db: sqlite_utils.Database) -> None:
    """The last TOTP time-step accepted from each console operator (``totp_step``; 0:
    none yet), so that a code is accepted once: presented again within its window, it is
    refused (``node.console.app``)."""
    run_script(
        db,
        """
        ALTER TABLE console_operators ADD COLUMN totp_step INTEGER NOT NULL DEFAULT 0;
        """,
    )


@MIGRATIONS()
def m017_figures(db: sqlite_utils.Database) -> None:
    """The management center's figures (``node.storage.figures``): the calls counted per
    hour, and the activations and authorizations found by their time."""
    shared.create_call_tally(db)
    run_script(
        db,
        """
        CREATE INDEX vouchers_by_activation ON vouchers (activated_at)
            WHERE activated_at IS NOT NULL;
        CREATE INDEX authorizations_by_time ON authorizations (created_at);
        """,
    )


@MIGRATIONS()
def m018_node_cert_expiry(db: sqlite_utils.Database) -> None:
    """When each province's certificate expires (``cert_not_after``, ms since the epoch;
    0: not known, a province on --insecure): the not_after of the certificate it called
    Register and its last Heartbeat with, shown on the console's Nation page."""
    run_script(
        db,
        """
        ALTER TABLE node_directory ADD COLUMN cert_not_after INTEGER NOT NULL DEFAULT 0;
        """,
    )


@MIGRATIONS()
def m019_delivery_leases(db: sqlite_utils.Database) -> None:
    """Which national replica delivers the outbox to each receiving province
    (``delivery_leases``: ``holder``, a replica's instance id; ``expires_at``, ms since
    the epoch by the database's clock): national as a cluster of processes on one
    PostgreSQL database sends each province's events from one replica at a time
    (``node.storage.outbox``, "Leases"). A national on SQLite is one process and never
    writes it."""
    run_script(
        db,
        """
        CREATE TABLE delivery_leases (
            receiver TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            expires_at INTEGER NOT NULL
        );
        """,
    )


# The partitions of the registry on PostgreSQL: the 31 mainland provinces and the corps
# (66), as they stood when m020 was written (a later change is a migration of its own).
_PARTITION_PROVINCES = (
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36",
    "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62",
    "63", "64", "65", "66",
)  # fmt: skip


def _partitions(table: str, parent: str) -> str:
    """The partitions ``{table}_NN`` of ``parent``, one per province of
    ``_PARTITION_PROVINCES``, and ``{table}_other`` for any other code and for no
    province ('')."""
    lines = [
        f"CREATE TABLE {table}_{p} PARTITION OF {parent} FOR VALUES IN ('{p}');"
        for p in _PARTITION_PROVINCES
    ]
    lines.append(f"CREATE TABLE {table}_other PARTITION OF {parent} DEFAULT;")
    return "\n".join(lines)


@MIGRATIONS()
def m020_registry_by_province(db: sqlite_utils.Database) -> None:
    """The registry by insured province: ``insured_regions.province``, the province of
    the region (the first two digits of ``insu_org``), and ``persons.province``, the
    person's home province: that of the lowest-coded region the person is insured in
    ('' for none). A person insured in several provinces has a region row in each, and
    one home. Both are written by ``node.storage.national.registry`` with the rows.

    On PostgreSQL both tables are partitioned by ``province`` (declarative partitioning:
    one partition per province, ``…_other`` for the rest), a person changing home moves
    to the new partition. A partitioned table's unique keys must include the partition
    key, so what SQLite's ``persons`` enforces across the country is held by
    ``person_keys`` there, one row a person (person_id; id type and number, unique;
    home province), kept by a trigger on ``persons`` and referenced by the foreign keys
    to persons. SQLite keeps one table each, with a view ``person_keys`` over
    ``persons``, so that a query can ask it the home province on both backends."""
    run_script(
        db,
        """
        ALTER TABLE persons ADD COLUMN province TEXT NOT NULL DEFAULT '';
        UPDATE persons SET province = coalesce(
            (SELECT substr(min(r.insu_org), 1, 2) FROM insured_regions r
              WHERE r.person_id = persons.person_id), '');
        ALTER TABLE insured_regions ADD COLUMN province TEXT NOT NULL DEFAULT '';
        UPDATE insured_regions SET province = substr(insu_org, 1, 2);
        CREATE VIEW person_keys AS SELECT person_id, id_type, id_no, province FROM persons;
        """,
        postgresql=f"""
        CREATE TABLE person_keys (
            person_id INTEGER PRIMARY KEY,
            id_type   TEXT NOT NULL,
            id_no     TEXT NOT NULL,
            province  TEXT NOT NULL,
            UNIQUE (id_type, id_no)
        );
        INSERT INTO person_keys (person_id, id_type, id_no, province)
            SELECT p.person_id, p.id_type, p.id_no, coalesce(
                (SELECT substr(min(r.insu_org), 1, 2) FROM insured_regions r
                  WHERE r.person_id = p.person_id), '')
              FROM persons p;
        ALTER TABLE vouchers DROP CONSTRAINT vouchers_person_id_fkey;
        ALTER TABLE vouchers ADD CONSTRAINT vouchers_person_id_fkey
            FOREIGN KEY (person_id) REFERENCES person_keys (person_id);
        ALTER TABLE activation_serials DROP CONSTRAINT activation_serials_person_id_fkey;
        ALTER TABLE activation_serials ADD CONSTRAINT activation_serials_person_id_fkey
            FOREIGN KEY (person_id) REFERENCES person_keys (person_id);

        CREATE TABLE persons_by_province (
            person_id     BIGINT NOT NULL,
            user_name     TEXT NOT NULL,
            id_type       TEXT NOT NULL,
            id_no         TEXT NOT NULL,
            gender        TEXT NOT NULL,
            birthday      TEXT NOT NULL,
            nationality   TEXT NOT NULL,
            phone         TEXT NOT NULL DEFAULT '',
            face_template BYTEA,
            updated_at    BIGINT NOT NULL,
            face_sealed   BYTEA,
            province      TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (person_id, province)
        ) PARTITION BY LIST (province);
        {_partitions("persons", "persons_by_province")}
        INSERT INTO persons_by_province
            SELECT p.person_id, p.user_name, p.id_type, p.id_no, p.gender, p.birthday,
                   p.nationality, p.phone, p.face_template, p.updated_at, p.face_sealed,
                   k.province
              FROM persons p JOIN person_keys k ON k.person_id = p.person_id;

        CREATE TABLE insured_regions_by_province (
            person_id BIGINT NOT NULL REFERENCES person_keys (person_id),
            insu_org  TEXT NOT NULL,
            insu_type TEXT NOT NULL,
            province  TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (person_id, insu_org, province)
        ) PARTITION BY LIST (province);
        {_partitions("insured_regions", "insured_regions_by_province")}
        INSERT INTO insured_regions_by_province
            SELECT person_id, insu_org, insu_type, substr(insu_org, 1, 2) FROM insured_regions;

        DROP TABLE insured_regions;
        DROP TABLE persons;
        ALTER TABLE persons_by_province RENAME TO persons;
        ALTER TABLE insured_regions_by_province RENAME TO insured_regions;
        CREATE INDEX persons_by_id_no ON persons (id_type, id_no);
        CREATE INDEX persons_face_unsealed ON persons (person_id)
            WHERE face_template IS NOT NULL;
        CREATE INDEX insured_regions_by_org ON insured_regions (insu_org, person_id);

        -- person_keys follows persons. A row moving to another partition (its home
        -- changed) fires DELETE then INSERT, both after the move: the DELETE keeps the
        -- key of a person still there, the INSERT finds its id known and updates it.
        CREATE FUNCTION person_keys_follow() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                DELETE FROM person_keys k WHERE k.person_id = OLD.person_id
                   AND NOT EXISTS (SELECT 1 FROM persons p WHERE p.person_id = OLD.person_id);
                RETURN NULL;
            END IF;
            IF TG_OP = 'UPDATE' AND NEW.person_id <> OLD.person_id THEN
                RAISE EXCEPTION 'a person''s id does not change'
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            IF TG_OP = 'INSERT' THEN
                INSERT INTO person_keys (person_id, id_type, id_no, province)
                    VALUES (NEW.person_id, NEW.id_type, NEW.id_no, NEW.province)
                    ON CONFLICT (person_id) DO NOTHING;
                IF FOUND THEN
                    RETURN NULL;
                END IF;
                IF (SELECT count(*) FROM persons p WHERE p.person_id = NEW.person_id) > 1 THEN
                    RAISE EXCEPTION 'duplicate key value violates unique constraint "persons_pkey"'
                        USING ERRCODE = 'unique_violation',
                              DETAIL = format('Key (person_id)=(%s) already exists.',
                                              NEW.person_id);
                END IF;
            END IF;
            UPDATE person_keys SET id_type = NEW.id_type, id_no = NEW.id_no,
                   province = NEW.province
             WHERE person_id = NEW.person_id;
            RETURN NULL;
        END $$;
        CREATE TRIGGER persons_keys AFTER INSERT OR UPDATE OR DELETE ON persons
            FOR EACH ROW EXECUTE FUNCTION person_keys_follow();
        """,
    )
