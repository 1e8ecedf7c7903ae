"""Market data: the securities master and daily price history."""
