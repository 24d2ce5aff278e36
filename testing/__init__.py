"""What tests and benchmarks share: the fake model server, the app launcher, load."""
