"""JSON-LD for credentials: bundled contexts, an offline loader, RDFC-1.0."""
