"""The fault harness (`make chaos`): the desk's real processes under real faults, counted.

`python -m socialdesk.chaos --posts 20000 --replies 1000` starts its own PostgreSQL, Redis,
simulator, two Celery workers and beat under var/chaos/, runs `harness.Harness`, prints one
`name: value` figure a line and stops every process it started.
"""
