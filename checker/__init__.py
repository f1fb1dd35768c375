"""The checker service: performs checks, records results, moves monitors between states, sends alerts."""
