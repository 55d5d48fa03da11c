"""Sending through Graph, shared by the Facebook and Instagram connectors: a reply posted for
a Page or its linked Instagram account, and the look-up that finds a private reply the
network may have stored when its answer was lost (see cases.sending's reconcile step)."""

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import facebook

from listening.connectors import facebook as fb
from listening.connectors.errors import AmbiguousSend, ConnectorError, TransientError
from listening.posts import OutboundReply, ReplyTarget


def graph_publish(
    graph: facebook.GraphAPI,
    page_id: str,
    reply: OutboundReply,
    *,
    network: str,
    public_edge: str,
    messaging_type: str = "",
) -> str:
    """Post `reply` through Graph for a Page (Facebook) or its linked Instagram account;
    returns the new item's id.

    Private: `POST /{page-id}/messages` to the comment's author (`recipient.comment_id`, the
    one private reply a comment allows) or into the conversation (`recipient.id`). Public:
    `POST /{target}/{public_edge}`. A failure after the request left (a 5xx, a timeout, an
    answer without an id) raises AmbiguousSend: the item may exist, and the sender looks for
    it (find_published) before any retry. `network` names the network in those errors.
    """
    target = reply.target
    try:
        if reply.is_private:
            recipient = (
                {"id": target.author_id}
                if target.kind == "dm"
                else {"comment_id": target.external_id}
            )
            message = {
                "recipient": json.dumps(recipient),
                "message": json.dumps({"text": reply.text}),
            }
            if messaging_type:
                message["messaging_type"] = messaging_type
            answer = graph.request(f"{graph.version}/{page_id}/messages", post_args=message)
            external_id = answer.get("message_id") if isinstance(answer, dict) else None
        else:
            answer = graph.put_object(target.external_id, public_edge, message=reply.text)
            external_id = answer.get("id") if isinstance(answer, dict) else None
    except ConnectorError as exc:
        if isinstance(exc, TransientError) and not isinstance(exc, AmbiguousSend):
            # A 5xx on a POST: the network may have stored the reply before failing.
            raise AmbiguousSend(f"{network} failed after the request was sent: {exc}") from exc
        raise
    except Exception as exc:
        raise fb._map_error(exc, sending=True) from exc
    if not external_id:
        raise AmbiguousSend(f"{network} accepted the request but its answer carries no id")
    return str(external_id)


def find_in_conversations(
    graph: facebook.GraphAPI,
    page_id: str,
    target: ReplyTarget,
    *,
    platform: str,
    not_before: datetime,
    matches: Callable[[dict[str, Any]], bool],
) -> str | None:
    """The id of the first message that `matches` in the conversation a private reply went to:
    a DM's own conversation, else (a private reply to a comment opens one) the Page's
    `platform` conversations updated since `not_before`. None when none is listed yet."""
    if target.kind == "dm" and target.conversation_id.startswith("msg:"):
        conversations = [target.conversation_id.removeprefix("msg:")]
    else:
        listing = fb._get(
            graph,
            f"{page_id}/conversations",
            {"platform": platform, "fields": fb.CONVERSATION_FIELDS, "limit": 25},
        )
        conversations = [
            fb._str(c.get("id"))
            for c in fb._data(listing)
            if (fb.parse_graph_time(c.get("updated_time")) or not_before) >= not_before
        ]
    for conversation_id in filter(None, conversations):
        messages = fb._get(
            graph, f"{conversation_id}/messages", {"fields": fb.MESSAGE_FIELDS, "limit": 25}
        )
        for item in fb._data(messages):
            if matches(item):
                return fb._str(item.get("id"))
    return None
