"""One module per network behind one small interface.

The connectors are the only code that imports tweepy or facebook-sdk and the only code
that knows a network's JSON shapes. Everything past them sees `listening.posts`.

    connector = get_connector(channel.network)
    result = connector.fetch(channel, channel.cursor)      # -> FetchResult
    external_id = connector.publish(reply)                 # -> str
    external_id = connector.find_published(reply)          # -> str | None
    posts, rejects = connector.normalise_payload(payload)  # raw API response -> posts
"""

from typing import TYPE_CHECKING, Any, Protocol

from listening.posts import FetchResult, InboundPost, Quarantined

if TYPE_CHECKING:
    from cases.models import Reply
    from listening.models import Channel


class Connector(Protocol):
    network: str

    def fetch(self, channel: "Channel", cursor: dict[str, Any]) -> FetchResult: ...

    def publish(self, reply: "Reply") -> str: ...

    def find_published(self, reply: "Reply") -> str | None: ...

    def normalise_payload(
        self, payload: dict[str, Any]
    ) -> tuple[list[InboundPost], list[Quarantined]]: ...


def get_connector(network: str) -> Connector:
    if network == "x":
        from listening.connectors import x

        return x.XConnector()
    if network == "facebook":
        from listening.connectors import facebook

        return facebook.FacebookConnector()
    raise ValueError(f"No connector for network {network!r}")
