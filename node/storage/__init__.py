"""Storage: one SQLite file per node, all SQL behind one narrow layer per role."""
