"""Pure computations of the project: no I/O, no database, no Dagster."""
