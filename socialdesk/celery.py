"""The Celery application: configured from Django settings under the CELERY_ namespace."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "socialdesk.settings")

app = Celery("socialdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _add_worker_steps() -> None:
    # Imported late: the step's module reads Django settings only when it runs.
    from alerts.liveness import BeatWatch

    app.steps["worker"].add(BeatWatch)


_add_worker_steps()
