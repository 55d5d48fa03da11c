"""Re-encrypt every channel's credentials with the first CREDENTIALS_KEY."""

from django.core.management.base import BaseCommand
from django.db import transaction

from listening.models import Channel
from socialdesk.crypto import needs_rotation, rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every channel's credentials with the first key in CREDENTIALS_KEY: after "
        "adding a new key in front, or on an install that used the key derived from SECRET_KEY."
    )

    def handle(self, *args, **options) -> None:
        rotated = 0
        with transaction.atomic():
            channels = Channel.objects.select_for_update().only("credentials_encrypted")
            for channel in channels:
                if needs_rotation(channel.credentials_encrypted):
                    channel.credentials_encrypted = rotate(channel.credentials_encrypted)
                    channel.save(update_fields=["credentials_encrypted"])
                    rotated += 1
        self.stdout.write(f"Re-encrypted the credentials of {rotated} channel(s).")
