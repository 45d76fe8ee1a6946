"""One front per protocol: OIP v2 (oip.py) and OpenAI (openai.py).

Each runs a request through the same steps in order: validate the body, resolve the
version (the model's traffic split), guard it (guard.py: in flight, faults, metrics), run
the model, respond.
"""
