"""Shared pieces of jiesu: contracts, settings, database, crypto, hash chain."""
