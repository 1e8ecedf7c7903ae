"""Trades: the recommendation analyzer and the sensor that notices trades needing it."""
