"""Scripts: generation, the local stack, Locust scenarios and benchmarks (run from the repo root)."""
