"""One benchmark module per area; each exposes ``run(settings) -> BenchResult``."""
