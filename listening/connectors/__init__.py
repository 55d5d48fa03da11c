"""One module per network behind one small interface.

The connectors are the only code that imports tweepy or facebook-sdk and the only code
that knows a network's JSON shapes. Everything past them sees `listening.posts`.

    connector = get_connector(channel.network)
    result = connector.fetch(channel, channel.cursor)      # -> FetchResult
    external_id = connector.publish(reply)                 # -> str
    external_id = connector.find_published(reply, exclude)  # -> str | None
    posts, rejects = connector.normalise_payload(payload)  # raw API response -> posts
"""

from collections.abc import Collection
from typing import TYPE_CHECKING, Any, Protocol

from listening.connectors.errors import PermanentError
from listening.posts import FetchResult, InboundPost, Quarantined

if TYPE_CHECKING:
    from cases.models import Reply
    from listening.models import Channel, Mention


class Connector(Protocol):
    network: str

    def fetch(self, channel: "Channel", cursor: dict[str, Any]) -> FetchResult: ...

    def publish(self, reply: "Reply") -> str: ...

    def find_published(self, reply: "Reply", exclude: Collection[str] = ()) -> str | None: ...

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
