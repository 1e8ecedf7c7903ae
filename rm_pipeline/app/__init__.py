"""The thin user and trade layer: users and access tokens, trades, broker connections, analysis.

Each service call is one database transaction. Errors callers should show to people derive from
`rm_pipeline.app.errors.AppError`; their messages name the offending input and never a secret.
"""
