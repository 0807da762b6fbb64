"""Adapters: the only code that talks to AWS (boto3) and HTTP services (requests)."""
