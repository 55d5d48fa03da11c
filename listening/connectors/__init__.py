"""One module per network behind one small interface.

The connectors are the only code that imports tweepy or facebook-sdk and the only code
that knows a network's JSON shapes (Instagram is read through facebook-sdk too).
Everything past them sees `listening.posts`.

    connector = get_connector(channel.network)
    for page in connector.fetch_pages(channel, cursor):   # -> FetchPage, one per page read
        ...
    result = connector.fetch(channel, channel.cursor)      # -> FetchResult (pages merged)
    external_id = connector.publish(reply)                 # OutboundReply -> str
    external_id = connector.find_published(reply)          # OutboundReply -> str | None
    posts, rejects = connector.normalise_payload(payload)  # raw API response -> posts
    hydration = connector.hydrate(channel, records)        # look up what saved records lack
    connector.set_hidden(post, hidden=True)                # ModeratedPost: hide / show again
    deleted = connector.delete_post(post)                  # the brand's own post; False: gone
"""

from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from listening.posts import (
    FetchPage,
    FetchResult,
    Hydration,
    InboundPost,
    ModeratedPost,
    OutboundReply,
    Quarantined,
)

if TYPE_CHECKING:
    from listening.models import Channel


class Connector(Protocol):
    network: str

    def fetch(self, channel: "Channel", cursor: dict[str, Any]) -> FetchResult: ...

    def fetch_pages(self, channel: "Channel", cursor: dict[str, Any]) -> Iterator[FetchPage]: ...

    def publish(self, reply: OutboundReply) -> str: ...

    def find_published(self, reply: OutboundReply) -> str | None: ...

    def normalise_payload(
        self, payload: dict[str, Any], *, account_id: str = ""
    ) -> tuple[list[InboundPost], list[Quarantined]]: ...

    def lookup_ids(self, records: list[Any]) -> list[str]: ...

    def set_hidden(self, post: ModeratedPost, *, hidden: bool) -> None: ...

    def delete_post(self, post: ModeratedPost) -> bool: ...

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
    if network == "instagram":
        from listening.connectors import instagram

        return instagram.InstagramConnector()
    raise ValueError(f"No connector for network {network!r}")
