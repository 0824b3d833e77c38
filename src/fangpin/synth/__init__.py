"""A synthetic Handan-like county or city, deterministic from a seed, for demo, tests and benchmarks."""
