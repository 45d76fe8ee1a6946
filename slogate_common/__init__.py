"""Pieces both halves of slogate share without depending on each other.

The harness never imports the reference server and the server never imports the harness;
both import this package, which imports neither.
"""
