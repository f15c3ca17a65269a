"""The database: engines and their error classes, the tables, timeline rows, and the Alembic
migrations (`firebell db upgrade`)."""
