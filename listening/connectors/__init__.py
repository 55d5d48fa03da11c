"""One module per network behind one small interface.

The connectors are the only code that imports tweepy or facebook-sdk and the only code
that knows a network's JSON shapes. Everything past them sees `listening.posts`.

    connector = get_connector(channel.network)
    for page in connector.fetch_pages(channel, cursor):   # -> FetchPage, one per page read
        ...
    result = connector.fetch(channel, channel.cursor)      # -> FetchResult (pages merged)
    external_id = connector.publish(reply)                 # -> str
    external_id = connector.find_published(reply, exclude)  # -> str | None
    posts, rejects = connector.normalise_payload(payload)  # raw API response -> posts
    hydration = connector.hydrate(channel, records)        # look up what saved records lack
"""

from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from listening.connectors.errors import PermanentError
from listening.posts import FetchPage, FetchResult, Hydration, InboundPost, Quarantined

if TYPE_CHECKING:
    from cases.models import Reply
    from listening.models import Channel, Mention


class Connector(Protocol):
    network: str

    def fetch(self, channel: "Channel", cursor: dict[str, Any]) -> FetchResult: ...

    def fetch_pages(self, channel: "Channel", cursor: dict[str, Any]) -> Iterator[FetchPage]: ...

    def publish(self, reply: "Reply") -> str: ...

    def find_published(self, reply: "Reply", exclude: Collection[str] = ()) -> str | None: ...

    def normalise_payload(
        self, payload: dict[str, Any], *, account_id: str = ""
    ) -> tuple[list[InboundPost], list[Quarantined]]: ...

    def lookup_ids(self, records: list[Any]) -> list[str]: ...

    def hydrate(
        self,
        channel: "Channel",
        records: list[Any],
        *,
        dry_run: bool = False,
        skip: Collection[str] = (),
    ) -> Hydration: ...


def get_connector(network: str) -> Connector:
    if network == "x":
        from listening.connectors import x

        return x.XConnector()
    if network == "facebook":
        from listening.connectors import facebook

        return facebook.FacebookConnector()
    raise ValueError(f"No connector for network {network!r}")


def target_mention(reply: "Reply") -> "Mention":
    """The post a reply answers: its in_reply_to, else the case's latest suitable mention."""
    if reply.in_reply_to_id is not None:
        return reply.in_reply_to
    mentions = reply.case.mentions.select_related("author").order_by("-posted_at", "-id")
    if not reply.is_private:
        mentions = mentions.filter(is_private=False)
    target = mentions.first()
    if target is None:
        raise PermanentError("The case has no post to reply to.")
    return target
