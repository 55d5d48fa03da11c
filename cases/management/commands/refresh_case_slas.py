"""`manage.py refresh_case_slas`: date every open case's service-level clocks again.

The desk keeps them as cases change (cases/sla.py) and after every change of policies or
business hours in the admin; run this once after upgrading to a version with service levels
(cases opened before have no due times yet), or after loading cases by other means
(seed_desk).
"""

import time

from django.core.management.base import BaseCommand

from cases.sla import refresh_open_case_slas


class Command(BaseCommand):
    help = "Recompute the service-level due times of every open case."

    def handle(self, *args: object, **options: object) -> None:
        started = time.monotonic()
        changed = refresh_open_case_slas()
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-dated {changed:,} open cases in {time.monotonic() - started:.1f} s."
            )
        )
