"""HTTP plumbing shared by every service: problems, middleware, bodies, OpenAPI."""
