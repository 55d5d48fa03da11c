from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _without_jit(sender, connection, **kwargs) -> None:
    """PostgreSQL's JIT compiles any query whose estimated cost passes jit_above_cost, at
    every run: a short query with a pessimistic estimate then spends most of a second
    compiling (the case page's assignable people took 733 ms of 968), and the dashboard's
    uncached page was twice as slow with it. The desk's queries are short, so its sessions
    run without JIT. A SET per new connection, not a startup option: poolers such as
    PgBouncer refuse startup options they do not know."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET jit = off")


class SocialDeskConfig(AppConfig):
    name = "socialdesk"
    verbose_name = "SocialDesk"

    def ready(self) -> None:
        connection_created.connect(_without_jit, dispatch_uid="socialdesk-without-jit")
