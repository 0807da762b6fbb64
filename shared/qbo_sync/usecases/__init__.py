"""Use cases: orchestrate the ports to carry out one product action each."""
