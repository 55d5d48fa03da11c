"""How the simulated X's customers post: a generated draft becomes a mention, a thread
bump, a quote, a DM or a search hit for a brand, and a customer answers the brand's reply."""

import random
from typing import TYPE_CHECKING

from listening.simulator import traffic
from listening.simulator.generator import Draft
from listening.simulator.state import Account, PendingAnswer
from listening.simulator.x_wire import TCO, Tweet

if TYPE_CHECKING:
    from listening.simulator.x_api import XNetwork


def add_customer_post(
    network: "XNetwork", account: Account, rng: random.Random, kind: str, draft: Draft
) -> str:
    """`draft` as a customer post of `kind` to `account`; a thread or a quote with nothing
    to follow up or quote yet is a mention instead."""
    customer, text, text_lang = draft.customer, draft.text, draft.lang
    handle = f"@{account.handle}"
    landing = f"https://free-crypto-airdrop.example/claim?u={customer.username}"
    expanded = dict.fromkeys(TCO.findall(text), landing)
    if kind == "thread":
        earlier = _recent_customer_tweet(network, account, rng)
        if earlier is None:
            kind = "mention"
        else:
            author = network.customers_by_id[earlier.author_id]
            bump, bump_lang = traffic.thread_bump(rng, author.lang, account.brand_word)
            tweet = network.add_tweet(
                author.x_id,
                f"{handle} {bump}",
                bump_lang,
                rng,
                mentions_of=(account.account_id,),
                reply_to=earlier,
            )
            return str(tweet.id)
    if kind == "quote":
        pool = network.all_ids[-200:]
        if not pool:
            kind = "mention"
        else:
            quoted = network.tweets[rng.choice(pool)]
            quoted_user = network.users[quoted.author_id]
            line, line_lang = traffic.quote_line(rng, customer.lang, account.brand_word)
            link = f"https://t.co/q{quoted.id % 10_000_000:07d}"
            tweet = network.add_tweet(
                customer.x_id,
                f"{handle} {line} {link}",
                line_lang,
                rng,
                mentions_of=(account.account_id,),
                quote_of=quoted,
                expanded={link: f"https://x.com/{quoted_user.username}/status/{quoted.id}"},
            )
            return str(tweet.id)
    if kind == "dm":
        return str(network.add_dm(customer.x_id, account.account_id, text).id)
    if kind == "search":
        word = account.brand_word
        body = rng.choice((f"{word}: {text}", f"Dear {word}, {text}", f"{text} (thanks {word})"))
        return str(network.add_tweet(customer.x_id, body, text_lang, rng, expanded=expanded).id)
    if rng.random() < 0.02:
        text, text_lang = traffic.emoji_only(rng), "und"
    body = f"{handle} {text}" if rng.random() < 0.8 else f"{text} {handle}"
    tweet = network.add_tweet(
        customer.x_id,
        body,
        text_lang,
        rng,
        mentions_of=(account.account_id,),
        expanded=expanded,
    )
    return str(tweet.id)


def _recent_customer_tweet(
    network: "XNetwork", account: Account, rng: random.Random
) -> Tweet | None:
    recent = [
        network.tweets[i]
        for i in network.mentions.get(account.account_id, [])[-50:]
        if network.tweets[i].author_id in network.customers_by_id
    ]
    return rng.choice(recent) if recent else None


def follow_up(
    network: "XNetwork", account: Account, pending: PendingAnswer, rng: random.Random
) -> str:
    """The customer answers the brand's reply or DM (`pending` names it)."""
    if pending.kind == "dm":
        event = network.dm_events[int(pending.ref)]
        customer_id = event.conversation_id.replace(account.account_id, "").strip("-")
        customer = network.customers_by_id.get(customer_id)
        lang = customer.lang if customer else "en"
        text, _ = traffic.answer_to(rng, lang, account.brand_word, pending.survey)
        return str(network.add_dm(customer_id, account.account_id, text).id)
    brand_tweet = network.tweets[int(pending.ref)]
    customer_id = brand_tweet.in_reply_to_user_id or rng.choice(network.state.customers).x_id
    customer = network.customers_by_id.get(customer_id)
    text, lang = traffic.follow_up(rng, customer.lang if customer else "en", account.brand_word)
    tweet = network.add_tweet(
        customer_id,
        f"@{account.handle} {text}",
        lang,
        rng,
        mentions_of=(account.account_id,),
        reply_to=brand_tweet,
    )
    return str(tweet.id)
