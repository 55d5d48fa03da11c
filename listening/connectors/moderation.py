"""Moderation on the networks, behind the connectors' `set_hidden` and `delete_post`.

Graph API (facebook-sdk, the session of `listening.connectors.http`):

* `POST /{comment-id}` with `is_hidden=true|false` hides a comment under one of the page's
  posts from everyone but its author and their friends, or shows it again; the answer is
  `{"success": true}`. Only the page the post belongs to may (the comment's `can_hide`), and
  never for a comment the page wrote itself.
* Instagram (IG Comment reference, "Updating"): `POST /{ig-comment-id}` with `hide=true|false`
  hides a comment on the account's media, or shows it again; `{"success": true}`. Not for a
  comment the account wrote itself.
* `DELETE /{object-id}` deletes the page's own comment (on Instagram the account's own
  comment, the same call); the answer is `{"success": true}`.
* An object that is gone answers 400, `#100` with subcode 33 ("Unsupported delete request.
  Object with ID '…' does not exist, …"): `PostGone`.

X API v2 (tweepy's `Client.delete_tweet`): `DELETE /2/tweets/:id` deletes the account's own
post, answering `{"data": {"deleted": true}}`; another account's post is refused (403), and
a post that is gone is 404.

Both calls are idempotent on the network (hiding twice leaves it hidden; deleting twice
finds it gone), so a call repeated after a timeout does no harm: every transport failure is
a TransientError here, never an AmbiguousSend, and a delete that finds the post gone is done.
"""

from typing import Any

import tweepy

from listening.connectors.errors import ConnectorError, PermanentError, PostGone
from listening.posts import ModeratedPost


def graph_set_hidden(post: ModeratedPost, *, hidden: bool, param: str = "is_hidden") -> None:
    """Hide (or show again) a customer's comment under one of the page's posts (`param`
    "is_hidden"), or on the Instagram account's media ("hide").

    Raises PostGone when Graph no longer has the comment, PermanentError when it refuses
    (the page's own comment, a comment on another page's post), and the other connector
    errors as reading does (rate limits, re-authorisation, transient failures).
    """
    from listening.connectors import facebook

    graph = facebook._graph(post.channel)
    path = f"{graph.version}/{_graph_id(post)}"
    answer = _graph_call(graph, path, post_args={param: "true" if hidden else "false"})
    if not (isinstance(answer, dict) and answer.get("success") is True):
        label = "Instagram" if param == "hide" else "Facebook"
        raise PermanentError(f"{label} did not confirm the change to the comment")


def graph_delete(post: ModeratedPost) -> bool:
    """Delete one of the page's own comments: True if deleted now, False if already gone."""
    from listening.connectors import facebook

    graph = facebook._graph(post.channel)
    path = f"{graph.version}/{_graph_id(post)}"
    try:
        answer = _graph_call(graph, path, method="DELETE")
    except PostGone:
        return False
    if not (isinstance(answer, dict) and answer.get("success") is True):
        raise PermanentError("Facebook did not confirm the deletion")
    return True


def x_delete(post: ModeratedPost) -> bool:
    """Delete the account's own post on X: True if deleted now, False if already gone."""
    from listening.connectors import x
    from listening.connectors.x_oauth import XClient

    if not post.external_id.isdigit():
        raise _refused(post)
    try:
        answer = XClient(post.channel).delete_tweet(post.external_id, user_auth=False)
    except tweepy.NotFound:
        return False
    except ConnectorError:
        raise
    except Exception as exc:
        raise x._map_error(exc, sending=False) from exc
    if x._dig(answer, "data", "deleted") is not True:
        raise PermanentError("X did not confirm the deletion")
    return True


def _graph_call(graph: Any, path: str, **kwargs: Any) -> Any:
    from listening.connectors import facebook

    try:
        return graph.request(path, **kwargs)
    except ConnectorError:
        raise
    except Exception as exc:
        raise facebook._map_error(exc, sending=False) from exc


def _graph_id(post: ModeratedPost) -> str:
    from listening.connectors import facebook

    if not facebook._GRAPH_ID.match(post.external_id):
        raise _refused(post)
    return post.external_id


def _refused(post: ModeratedPost) -> PermanentError:
    # Ids go into URL paths: one that is not a network id is never sent.
    return PermanentError(f"{post.external_id[:80]!r} is not a post id this network uses")
