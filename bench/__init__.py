"""The performance figures (`make bench`, i.e. `python -m bench`), kept out of the apps.

One module per part, each with `run(emit, **sizes)` printing `name: value` lines through
`emit`: `ingest` (listening), `inbox` (cases: the inbox and the case page) and `qa_dashboard`
(QA, which runs `qa_sampling` too).
"""
