"""The schema of each role, as the ordered list of migrations that builds it.

* :mod:`~node.storage.migrations.national`: the national node's database.
* :mod:`~node.storage.migrations.provincial`: a provincial node's database.
* :mod:`~node.storage.migrations.shared`: the DDL both lists call (the outbox and its
  parking, the inbox position per origin and its epoch).

sqlite-utils records each applied migration by name in ``_sqlite_migrations``, and a
database opened by :class:`~node.storage.db.Database` gets every migration of its role
not recorded there, in list order, each in one transaction with its record. So a name,
once released, never changes, and a migration, once released, is never edited: a
change of schema is a new migration at the end of its role's list, named ``mNNN_what``
with the next number (``tests/test_storage_migrations.py`` checks the numbering, and
that a database built by any prefix of a list migrates to the schema of a new one).
"""
