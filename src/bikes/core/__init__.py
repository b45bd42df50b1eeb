"""Core components: errors, data schemas, models and metrics."""
