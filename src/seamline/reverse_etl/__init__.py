"""Reverse ETL: models (a SQL query on a connected database, a primary key, a schedule) whose
added, updated and deleted rows are sent through destination actions, as Segment's are."""
