"""A local stand-in for X API v2 and the Graph API, for demos, end-to-end tests and benchmarks.

It speaks the subset of both APIs the connectors use, with the real payload and error shapes,
so the real tweepy and facebook-sdk clients talk to it over HTTP. It generates customer
traffic (complaints, questions, praise, trolls, spam, press, legal threats; threads, quotes,
comments, Messenger; several languages, emoji, hostile text), accepts replies and DMs, and
injects faults on demand. Standard library only: it runs as its own process
(`python -m listening.simulator`) or in a thread for tests (`tests/simulator.py`).
Never used in production.

Modules: `traffic` (customers and texts), `state` (accounts, faults, counters, one lock),
`x_api` and `graph_api` (each network's data and endpoints; X's wire format in `x_wire`, its
search language in `x_query`, how it counts a post in `x_text`, its customers' posts in
`x_traffic`), `oauth` (X's token endpoint:
short-lived user tokens, rotating refresh tokens), `server` (HTTP, auth, faults, the /_sim/
control API), `control` (a client of that API).
"""
