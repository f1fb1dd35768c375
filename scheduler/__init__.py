"""The scheduler service: enqueues each due check exactly once per slot."""
