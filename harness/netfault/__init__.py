"""A TCP fault proxy that speaks Toxiproxy: its toxics, their attribute names and units, and
the subset of its HTTP control API that an experiment needs.

Toxiproxy is a Go binary that is not always at hand; this package is its stand-in, written
on asyncio (uvloop where installed), so that a scenario's network faults run with nothing
to install. The same client drives either engine.

    toxics.py   one model per toxic type (the `TOXICS` registry) and what each does to a byte stream
    proxy.py    the listeners and the two pumps per connection that pass bytes through the toxics
    api.py      the HTTP control API (Toxiproxy's routes and JSON shapes) on aiohttp.web
    client.py   `ToxiproxyClient`, for this engine and a real `toxiproxy-server` alike
    engine.py   starting either engine as a child process and stopping it without leftovers

`python -m harness.netfault --port 0 --ready-file PATH` runs the control server.
"""
