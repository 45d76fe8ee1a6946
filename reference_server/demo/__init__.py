"""The embedded demo repository (repository.py) and the demo models it holds (catalog.py)."""
