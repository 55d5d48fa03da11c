"""X's search query language as the simulator understands it (GET /2/tweets/search/recent).

`compile_query(query)` parses once and answers a predicate over the simulator's tweets; a
query X would refuse raises the 400 it answers with.
"""

import re
from typing import TYPE_CHECKING, Any

from listening.simulator.state import ApiError
from listening.simulator.x_wire import MENTION, Tweet, invalid_request

if TYPE_CHECKING:
    from listening.simulator.x_api import XNetwork

_QUERY_TOKEN = re.compile(r'\s*(\(|\)|-?"[^"]*"|[^\s()]+)')


def compile_query(query: str) -> Any:
    """A predicate for X search syntax: terms, "phrases", OR, -negation, (groups), operators.

    Supported operators: is:retweet is:reply is:quote has:links lang: from: to: @user #tag.
    A bad query raises the 400 X answers with.
    """
    tokens = [t for t in _QUERY_TOKEN.findall(query) if t]
    position = 0

    def fail(message: str) -> ApiError:
        return invalid_request(
            "query", query, f"There were errors processing your request: {message}"
        )

    def parse_or() -> Any:
        nonlocal position
        options = [parse_and()]
        while position < len(tokens) and tokens[position] == "OR":
            position += 1
            options.append(parse_and())
        return options[0] if len(options) == 1 else ("or", options)

    def parse_and() -> Any:
        nonlocal position
        parts = []
        while position < len(tokens) and tokens[position] not in (")", "OR"):
            parts.append(parse_unary())
        if not parts:
            raise fail("empty group or dangling OR")
        return parts[0] if len(parts) == 1 else ("and", parts)

    def parse_unary() -> Any:
        nonlocal position
        token = tokens[position]
        if token == "-" and position + 1 < len(tokens) and tokens[position + 1] == "(":
            position += 1
            return ("not", parse_unary())
        if token.startswith("-") and len(token) > 1:
            tokens[position] = token[1:]
            return ("not", parse_unary())
        if token == "(":
            position += 1
            node = parse_or()
            if position >= len(tokens) or tokens[position] != ")":
                raise fail("missing )")
            position += 1
            return node
        position += 1
        return ("term", token)

    tree = parse_or()
    if position != len(tokens):
        raise fail(f"unexpected {tokens[position]!r}")

    def evaluate(node: Any, network: "XNetwork", tweet: Tweet) -> bool:
        op, arg = node
        if op == "or":
            return any(evaluate(n, network, tweet) for n in arg)
        if op == "and":
            return all(evaluate(n, network, tweet) for n in arg)
        if op == "not":
            return not evaluate(arg, network, tweet)
        return _term(arg, network, tweet)

    return lambda network, tweet: evaluate(tree, network, tweet)


def _term(term: str, network: "XNetwork", tweet: Tweet) -> bool:
    lower = term.lower()
    kinds = {kind for kind, _ in tweet.referenced}
    if lower == "is:retweet":
        return False
    if lower == "is:reply":
        return "replied_to" in kinds
    if lower == "is:quote":
        return "quoted" in kinds
    if lower == "has:links":
        return bool(tweet.urls)
    if lower.startswith("lang:"):
        return tweet.lang == lower[5:]
    if lower.startswith("from:"):
        return network.users[tweet.author_id].username.lower() == lower[5:].lstrip("@")
    if lower.startswith("to:"):
        user = network.users.get(tweet.in_reply_to_user_id or "")
        return bool(user) and user.username.lower() == lower[3:].lstrip("@")
    if lower.startswith('"'):
        return lower.strip('"') in tweet.text.lower()
    if lower.startswith("@"):
        # As on X: a mention entity of that username, not the characters anywhere.
        return any(name.lower() == lower[1:] for name in MENTION.findall(tweet.text))
    if lower.startswith("#"):
        return re.search(re.escape(lower) + r"(?!\w)", tweet.text.lower()) is not None
    if lower.isascii():
        return lower in tweet.words
    return lower in tweet.text.lower()
