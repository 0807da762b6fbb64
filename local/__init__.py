"""Local stand-ins for the external services (QuickBooks Online) used by the local stack and tests."""
