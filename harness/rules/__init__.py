"""`slogate rules`: a scenario's SLOs as Prometheus SLI recordings and multiwindow burn-rate alerts."""
