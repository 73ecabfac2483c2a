"""One module per route group: parse, call a service, shape the answer."""
