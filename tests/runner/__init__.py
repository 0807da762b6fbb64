"""Tests of the local Lambda runner and the local AWS (local/cfn.py, local/aws.py, local/runner)."""
