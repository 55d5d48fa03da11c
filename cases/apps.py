from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs) -> None:
    from socialdesk.roles import sync_roles

    sync_roles()


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "Cases"

    def ready(self) -> None:
        # Groups and their permissions follow socialdesk/roles.py after every migrate (and
        # after a test flush, which empties the tables but re-runs post_migrate).
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="socialdesk-sync-roles")
