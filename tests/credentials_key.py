"""A test-only CREDENTIALS_KEY when the environment gives none.

Settings refuse to start without CREDENTIALS_KEY when DEBUG is off, as the suite runs. `make
test` passes its own key; this covers a plain `pytest` run. Loaded with `-p
tests.credentials_key` (see pyproject), before Django reads the environment. The start-up
checks for a missing key run manage.py in subprocesses with an environment of their own.
"""

import os

TEST_CREDENTIALS_KEY = "dGVzdC1vbmx5LWNyZWRlbnRpYWxzLWtleS0wMDAwMDA="  # Makefile's, too

if not os.environ.get("CREDENTIALS_KEY") and not os.environ.get("CREDENTIALS_KEY_FILE"):
    os.environ["CREDENTIALS_KEY"] = TEST_CREDENTIALS_KEY
