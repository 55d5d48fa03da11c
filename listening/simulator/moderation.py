"""Moderation as the simulated networks serve it, as strictly as the real ones.

Graph API:
* `POST /{comment-id}` with `is_hidden=true|false`: only the page the comment's post belongs to
  may, and never on a comment the page wrote itself (Graph's `can_hide` is false there);
  `is_hidden` must be a boolean. Answers `{"success": true}`.
* `DELETE /{comment-id}`: the page deletes a comment under one of its posts (its replies go with
  it). Answers `{"success": true}`; afterwards the comment is gone from every read.
* Instagram, `POST /{ig-comment-id}` with `hide=true|false` (not Facebook's `is_hidden`):
  only the Page linked to the IG account whose media the comment is on may, never on a
  comment the account wrote itself; `hide` must be a boolean. Answers `{"success": true}`;
  the comment stays listed, with `hidden` when asked for.
* Instagram, `DELETE /{ig-comment-id}`: the account deletes a comment on its media.
* An id Graph does not have answers 400 `#100` subcode 33, "Unsupported <method> request. Object
  with ID '…' does not exist, cannot be loaded due to missing permissions, or does not support
  this operation."

X API v2:
* `DELETE /2/tweets/:id`: only the author's own post; another account's post is 403, a post
  that is not there (never, or deleted) 404. Answers `{"data": {"deleted": true}}`; afterwards
  the post is gone from every timeline, search and look-up.
"""

from bisect import bisect_left
from typing import TYPE_CHECKING, Any

from listening.simulator.graph_params import graph_error
from listening.simulator.state import Account, ApiError

if TYPE_CHECKING:
    from listening.simulator.state import SimState

BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


def graph_update(state: "SimState", page: Account, object_id: str, form: dict[str, Any]) -> dict:
    """POST /{object-id}: hide or show a comment under one of the token's page's posts."""
    if object_id in state.ig.comments:
        return _ig_update(state, page, object_id, form)
    fb = state.fb
    comment = fb.comments.get(object_id)
    if comment is None:
        raise _no_object("post", object_id)
    raw = str(form.get("is_hidden", "")).lower()
    if raw not in BOOLEANS:
        raise graph_error(400, "(#100) Param is_hidden must be a boolean", 100)
    post = fb.posts[comment.post_id]
    if post.page_id != page.account_id:
        raise graph_error(
            400, "(#200) The page does not have permission to hide or unhide this comment", 200
        )
    if comment.author is not None and comment.author[0] == page.account_id:
        raise graph_error(
            400, "(#100) A comment posted by the Page itself cannot be hidden or unhidden", 100
        )
    comment.hidden = BOOLEANS[raw]
    state.moderations.append({"network": "facebook", "id": object_id, "hidden": comment.hidden})
    return {"success": True}


def graph_delete(state: "SimState", page: Account, object_id: str) -> dict:
    """DELETE /{object-id}: the page deletes a comment under one of its posts."""
    if object_id in state.ig.comments:
        return _ig_delete(state, page, object_id)
    fb = state.fb
    comment = fb.comments.get(object_id)
    if comment is None:
        raise _no_object("delete", object_id)
    if fb.posts[comment.post_id].page_id != page.account_id:
        raise graph_error(400, "(#200) Permissions error", 200)
    gone = [object_id, *fb.replies_by_comment.get(object_id, [])]
    for comment_id in gone:
        removed = fb.comments.pop(comment_id)
        fb.comments_by_post[removed.post_id].remove(comment_id)
        fb.replies_by_comment.pop(comment_id, None)
        if removed.parent_id in fb.replies_by_comment:
            fb.replies_by_comment[removed.parent_id].remove(comment_id)
    _forget(state, set(gone))
    state.moderations.append({"network": "facebook", "id": object_id, "deleted": True})
    return {"success": True}


def _ig_update(state: "SimState", page: Account, comment_id: str, form: dict[str, Any]) -> dict:
    """POST /{ig-comment-id}: hide or show a comment on the account's media."""
    ig = state.ig
    comment = ig.comments[comment_id]
    if "hide" not in form:
        raise graph_error(400, "(#100) The parameter hide is required", 100)
    raw = str(form["hide"]).lower()
    if raw not in BOOLEANS:
        raise graph_error(400, "(#100) Param hide must be a boolean", 100)
    media = ig.media[comment.media_id]
    if media.kind != "own" or ig.page_of.get(media.owner) != page.account_id:
        raise graph_error(
            400, "(#200) The user does not have permission to hide or unhide this comment", 200
        )
    if comment.author[0] == media.owner:
        raise graph_error(
            400, "(#100) A comment made by the owner of the media cannot be hidden", 100
        )
    comment.hidden = BOOLEANS[raw]
    state.moderations.append({"network": "instagram", "id": comment_id, "hidden": comment.hidden})
    return {"success": True}


def _ig_delete(state: "SimState", page: Account, comment_id: str) -> dict:
    """DELETE /{ig-comment-id}: the account deletes a comment on its media."""
    ig = state.ig
    media = ig.media[ig.comments[comment_id].media_id]
    if media.kind != "own" or ig.page_of.get(media.owner) != page.account_id:
        raise graph_error(400, "(#200) Permissions error", 200)
    _forget(state, set(ig.remove_comment(comment_id)))
    state.moderations.append({"network": "instagram", "id": comment_id, "deleted": True})
    return {"success": True}


def x_delete(state: "SimState", account: Account, tweet_id: str) -> dict:
    """DELETE /2/tweets/:id: the account deletes one of its own posts."""
    x = state.x
    tweet = x.tweets.get(int(tweet_id)) if tweet_id.isdigit() else None
    if tweet is None:
        raise ApiError(
            404,
            {
                "title": "Not Found Error",
                "detail": f"Could not find tweet with id: [{tweet_id}].",
                "type": "https://api.twitter.com/2/problems/resource-not-found",
                "status": 404,
            },
        )
    if tweet.author_id != account.account_id:
        raise ApiError(
            403,
            {
                "title": "Forbidden",
                "detail": "You are not allowed to delete a Tweet you did not author.",
                "type": "about:blank",
                "status": 403,
            },
        )
    del x.tweets[tweet.id]
    for ids in (x.all_ids, x.timelines.get(tweet.author_id, []), *x.mentions.values()):
        pos = bisect_left(ids, tweet.id)
        if pos < len(ids) and ids[pos] == tweet.id:
            del ids[pos]
    _forget(state, {tweet_id})
    state.moderations.append({"network": "x", "id": tweet_id, "deleted": True})
    return {"data": {"deleted": True}}


def _forget(state: "SimState", ids: set[str]) -> None:
    """No customer will answer a post that is gone."""
    state.pending = [p for p in state.pending if p.ref not in ids]


def _no_object(method: str, object_id: str) -> ApiError:
    return graph_error(
        400,
        f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation.",
        100,
        33,
        "GraphMethodException",
    )
