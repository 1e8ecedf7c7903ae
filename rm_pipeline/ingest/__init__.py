"""Loading provider data into the warehouse, free of Dagster so it can be tested and reused alone."""
