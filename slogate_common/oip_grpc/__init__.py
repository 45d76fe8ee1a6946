"""The OIP v2 gRPC protocol that the reference server serves and the harness speaks:
its messages (messages.py), tensors in them (tensors.py) and its status codes (status.py)."""
