"""Storage: one SQLite file per node (or a PostgreSQL database, ``--db``), all SQL behind
one narrow layer per role.

* :mod:`.db`: the database (one writer thread, a reader pool), the base of the stores;
  :mod:`.postgres`: the same on PostgreSQL, each statement translated by :mod:`.dialect`;
  :mod:`.batch`: group commit and the inline writer of a province's scans and codes;
  :mod:`.settings`: the database's tunables.
* :mod:`.migrations`: each role's schema as one ordered list, and the DDL both share.
* :mod:`.national`: the national node's queries, one module per concern, and its store.
* :mod:`.provincial`: a province's voucher cache, inbox and notices, and its store;
  a province's acceptance (:mod:`.acceptance`: codes claimed, tokens, terminals), QR
  issue (:mod:`.qrcodes`) and settlement ledger (:mod:`.settlement`).
* Both roles: the outbox and the inbox position (:mod:`.outbox`), ``meta`` (:mod:`.meta`).

Functions named ``q_*`` take a connection and run inside the caller's read or
transaction; nothing outside this package runs SQL on a node's database.
"""
