"""Ports: the interfaces use cases depend on; adapters implement them, tests fake them."""
