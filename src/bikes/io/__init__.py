"""Input/output: configs, datasets, registries and services (everything that touches the world)."""
