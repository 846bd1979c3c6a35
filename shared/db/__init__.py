"""Postgres access: pools, versioned migrations and named SQL blocks."""
