"""Set-based computations that run inside the warehouse.

Each function takes a SQLAlchemy `Connection` whose transaction the caller owns, runs its work as SQL
on the server (no rows travel to Python), updates only the rows whose values change, and returns a
small dataclass of counts.
"""
