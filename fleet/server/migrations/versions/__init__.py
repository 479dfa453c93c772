"""Migration revisions, applied in order by fleet.server.db.migrate."""
