"""Analytics on the securities master: market statistics and fundamentals."""
