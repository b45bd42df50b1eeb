"""Monitoring of a registered model in production: data drift, data quality and performance.

The statistics are effect sizes (Wasserstein distance, Jensen-Shannon distance, PSI), not
p-values: with thousands of autocorrelated hours a window, any test rejects any tiny difference.
Layer: above `io` (it draws with `io.plots`), below `jobs` (the monitoring job is a thin shell).
"""
