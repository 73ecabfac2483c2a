"""HTTP API: requests, problem+json, principal, operations and the OpenAPI document."""
