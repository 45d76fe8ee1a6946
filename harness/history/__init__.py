"""The run history: every run's provenance, verdict and figures in a database (SQLite in the
reports directory by default, or a shared PostgreSQL), the baseline a new run is judged
against, the regression gate's judgement, and the trend plot of a figure over runs."""
