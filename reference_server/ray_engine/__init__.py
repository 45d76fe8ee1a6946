"""`--engine ray`: the reference server as Ray Serve replicas, its admin API and /metrics across them.

engine.py starts Ray and Serve; deployment.py is the replica; control.py the actor they share
state through; broadcast.py each replica's end of it; exposition.py merges their metrics.
"""
