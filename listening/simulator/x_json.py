"""How the simulated X API renders its records: tweets (with their entities), users, and the
expansions a request asks for (`includes`, and an error for each author it cannot find)."""

import re
from typing import TYPE_CHECKING, Any

from listening.simulator import media as sim_media
from listening.simulator.x_wire import MENTION, Tweet, XUser, escape_x, fields_param, iso_x

if TYPE_CHECKING:
    from listening.simulator.x_api import XNetwork

_HASHTAG = re.compile(r"#(\w+)")


def tweet_json(network: "XNetwork", tweet: Tweet, fields: set[str]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": str(tweet.id),
        "text": escape_x(tweet.text),
        "edit_history_tweet_ids": [str(i) for i in (*tweet.earlier, tweet.id)],
    }
    if "author_id" in fields:
        item["author_id"] = tweet.author_id
    if "conversation_id" in fields:
        item["conversation_id"] = str(tweet.conversation_id)
    if "created_at" in fields:
        item["created_at"] = iso_x(tweet.created)
    if "in_reply_to_user_id" in fields and tweet.in_reply_to_user_id:
        item["in_reply_to_user_id"] = tweet.in_reply_to_user_id
    if "lang" in fields:
        item["lang"] = tweet.lang
    if "public_metrics" in fields:
        item["public_metrics"] = dict(tweet.metrics)
    if "referenced_tweets" in fields and tweet.referenced:
        item["referenced_tweets"] = [{"type": t, "id": str(i)} for t, i in tweet.referenced]
    if "entities" in fields:
        entities = _entities(network, tweet)
        if entities:
            item["entities"] = entities
    if "attachments" in fields and sim_media.has_image(tweet.id):
        item["attachments"] = {"media_keys": [sim_media.media_key(tweet.id)]}
    return item


def _entities(network: "XNetwork", tweet: Tweet) -> dict[str, Any]:
    entities: dict[str, Any] = {}
    mentions = []
    for match in MENTION.finditer(tweet.text):
        entry = {"start": match.start(), "end": match.end(), "username": match.group(1)}
        user = next((u for u in _brands(network) if u.username == match.group(1)), None)
        if user is not None:
            entry["id"] = user.id
        mentions.append(entry)
    if mentions:
        entities["mentions"] = mentions
    urls = []
    for short, long in tweet.urls:
        start = tweet.text.find(short)
        display = long.split("://", 1)[-1]
        urls.append(
            {
                "start": start,
                "end": start + len(short),
                "url": short,
                "expanded_url": long,
                "display_url": display[:26] + ("…" if len(display) > 26 else ""),
            }
        )
    if urls:
        entities["urls"] = urls
    tags = [
        {"start": m.start(), "end": m.end(), "tag": m.group(1)}
        for m in _HASHTAG.finditer(tweet.text)
    ]
    if tags:
        entities["hashtags"] = tags
    return entities


def _brands(network: "XNetwork") -> list[XUser]:
    accounts = network.state.accounts.values()
    return [network.users[a.account_id] for a in accounts if a.network == "x"]


def user_json(user: XUser, fields: set[str]) -> dict[str, Any]:
    item: dict[str, Any] = {"id": user.id, "name": user.name, "username": user.username}
    if "verified" in fields:
        item["verified"] = user.verified
    if "public_metrics" in fields:
        item["public_metrics"] = {
            "followers_count": user.followers,
            "following_count": user.following,
            "tweet_count": user.posts,
            "listed_count": user.followers // 200,
            "like_count": user.posts * 2,
        }
    if "profile_image_url" in fields:
        item["profile_image_url"] = (
            f"https://pbs.twimg.com/profile_images/{user.id}/avatar_normal.jpg"
        )
    if "description" in fields:
        item["description"] = escape_x(user.description)
    if "created_at" in fields:
        item["created_at"] = iso_x(user.created_at)
    if "protected" in fields:
        item["protected"] = False
    return item


def with_includes(
    network: "XNetwork",
    data: list[dict[str, Any]],
    tweets: list[Tweet],
    params: dict[str, str],
) -> dict[str, Any]:
    expansions = fields_param(params, "expansions")
    user_fields = fields_param(params, "user.fields")
    tweet_fields = fields_param(params, "tweet.fields")
    body: dict[str, Any] = {"data": data}
    includes: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    user_ids: list[str] = []
    referenced: list[Tweet] = []
    if "referenced_tweets.id" in expansions:
        seen: set[int] = set()
        for tweet in tweets:
            for _, ref in tweet.referenced:
                if ref in network.tweets and ref not in seen:
                    seen.add(ref)
                    referenced.append(network.tweets[ref])
    for tweet in tweets:
        if "author_id" in expansions:
            user_ids.append(tweet.author_id)
        if "in_reply_to_user_id" in expansions and tweet.in_reply_to_user_id:
            user_ids.append(tweet.in_reply_to_user_id)
    if "referenced_tweets.id.author_id" in expansions:
        user_ids.extend(t.author_id for t in referenced)
    users = []
    seen_users: set[str] = set()
    for user_id in user_ids:
        if user_id in seen_users:
            continue
        seen_users.add(user_id)
        user = network.users.get(user_id)
        if user is None or user.suspended:
            errors.append(
                {
                    "value": user_id,
                    "detail": f"Could not find user with id: [{user_id}].",
                    "title": "Not Found Error",
                    "resource_type": "user",
                    "parameter": "author_id",
                    "resource_id": user_id,
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                }
            )
        else:
            users.append(user_json(user, user_fields))
    if users:
        includes["users"] = users
    if referenced:
        includes["tweets"] = [tweet_json(network, t, tweet_fields) for t in referenced]
    if "attachments.media_keys" in expansions:
        sim_media.include(includes, [t.id for t in tweets], params, network.state.own_url)
    if includes:
        body["includes"] = includes
    if errors:
        body["errors"] = errors
    return body
