"""Images on posts, from the networks' payloads to pending MentionMedia rows.

The connectors run against recorded-shape X API v2 and Graph API payloads
(tests/payloads/*media*.json, shaped after the networks' documented responses), with only the
HTTP edge faked; ingest runs against PostgreSQL.
"""

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.intake import IMAGE_ONLY_SUBJECT
from cases.models import Case, MentionMedia
from listening.connectors.facebook import FacebookConnector
from listening.connectors.x import XConnector
from listening.ingest import ingest
from listening.models import Network
from listening.posts import Attachment
from tests.conftest import X_API, make_channel
from tests.factories import post

pytestmark = pytest.mark.django_db

PAYLOADS = Path(__file__).parent / "payloads"


def load(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text())


def by_id(posts) -> dict:
    return {p.external_id: p for p in posts}


# ---- X ----------------------------------------------------------------------------------


def test_x_photos_keep_their_url_size_and_alt_text():
    posts, rejects = XConnector().normalise_payload(load("x_mentions_media.json"))

    assert rejects == []
    photos = by_id(posts)["1861000000000000201"].attachments
    assert photos == (
        Attachment(
            kind="photo",
            url="https://pbs.twimg.com/media/GdXb1aWXIAAq2Zk.jpg",
            alt_text='Screenshot: "Payment failed <code 51>" & a red banner',
            width=1170,
            height=2532,
        ),
        Attachment(
            kind="photo",
            url="https://pbs.twimg.com/media/GdXb1aXWgAEd7Hn.png",
            width=828,
            height=1792,
        ),
    )


def test_x_video_and_gif_give_their_still_and_unknown_keys_are_left_out():
    posts, _ = XConnector().normalise_payload(load("x_mentions_media.json"))

    media = by_id(posts)["1861000000000000202"].attachments
    assert [(m.kind, m.url) for m in media] == [
        (
            "video",
            "https://pbs.twimg.com/ext_tw_video_thumb/1861000000000000192/pu/img/kS3pYd0qQ1x2ZbC9.jpg",
        ),
        ("gif", "https://pbs.twimg.com/tweet_video_thumb/GdXb2cYWwAA0sJt.jpg"),
    ]


def test_x_dm_image_is_kept():
    posts, _ = XConnector().normalise_payload(load("x_dm_events_media.json"))

    (dm,) = posts
    assert dm.is_private
    assert [m.url for m in dm.attachments] == [
        "https://ton.twitter.com/1.1/ton/data/dm/1582838535446573061/1582838527565316096/Fx3Kp9Qa.jpg"
    ]


def test_x_media_without_expansion_gives_no_attachments():
    payload = load("x_mentions_media.json")
    del payload["includes"]["media"]

    posts, _ = XConnector().normalise_payload(payload)

    assert all(p.attachments == () for p in posts)


def test_x_poll_asks_for_the_media_expansion_and_fields(db, x_settings, rsps):
    channel = make_channel(Network.X, external_account_id="1000", handle="acme_support")
    rsps.get(f"{X_API}/2/users/1000/mentions", json=load("x_mentions_media.json"))
    rsps.get(f"{X_API}/2/dm_events", json=load("x_dm_events_media.json"))

    result = XConnector().fetch(channel, {})

    for call in rsps.calls:
        query = {k: v[0] for k, v in parse_qs(urlparse(call.request.url).query).items()}
        assert "attachments.media_keys" in query["expansions"].split(",")
        assert set(query["media.fields"].split(",")) >= {"url", "preview_image_url", "alt_text"}
    assert sum(len(p.attachments) for p in result.posts) == 5


# ---- Facebook ---------------------------------------------------------------------------


def test_facebook_album_photos_and_video_still_are_kept_and_shares_are_not():
    posts, rejects = FacebookConnector().normalise_payload(load("fb_feed_media.json"))

    assert rejects == []
    posts = by_id(posts)
    album = posts["104500000000001_900000000000201"].attachments
    assert [(m.kind, m.width, m.height) for m in album] == [
        ("photo", 540, 720),
        ("photo", 720, 540),
    ]
    assert all(m.url.startswith("https://scontent-fra3-") for m in album)
    (video,) = posts["104500000000001_900000000000202"].attachments
    assert video.kind == "video" and video.url.endswith("oe=674A1B2E")
    assert posts["104500000000001_900000000000203"].attachments == ()


def test_facebook_photo_without_words_is_a_post_not_a_reject():
    posts, _ = FacebookConnector().normalise_payload(load("fb_feed_media.json"))

    silent = by_id(posts)["104500000000001_900000000000202"]
    assert silent.text == ""


def test_facebook_comment_photo_is_kept_and_stickers_are_not():
    posts, rejects = FacebookConnector().normalise_payload(load("fb_comments_media.json"))

    assert rejects == []
    posts = by_id(posts)
    (photo,) = posts["900000000000201_700000000000101"].attachments
    assert (photo.kind, photo.width, photo.height) == ("photo", 444, 960)
    assert posts["900000000000201_700000000000102"].attachments == ()


def test_facebook_messenger_images_and_gifs_are_kept():
    payload = load("fb_messages_media.json")
    posts, _ = FacebookConnector().normalise_payload(
        {"id": "t_100000000000001", "messages": {"data": payload["data"]}}
    )

    (message,) = posts
    assert [(m.kind, m.width) for m in message.attachments] == [("photo", 1080), ("gif", 480)]


def test_facebook_webhook_shaped_message_attachment_is_read():
    item = {
        "id": "m_abc",
        "message": "see",
        "created_time": "2026-11-23T11:50:00+0000",
        "from": {"id": "5550000000000011", "name": "Jonas"},
        "attachments": [
            {"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/v/x.jpg"}}
        ],
    }
    posts, _ = FacebookConnector().normalise_payload({"id": "t_1", "messages": {"data": [item]}})

    assert [m.url for m in posts[0].attachments] == ["https://scontent.xx.fbcdn.net/v/x.jpg"]


def test_hostile_attachment_values_are_dropped_or_bounded():
    item = {
        "id": "1861000000000000301",
        "text": "look",
        "author_id": "2244994945",
        "created_at": "2026-11-23T11:02:00.000Z",
        "attachments": {"media_keys": [f"3_{n}" for n in range(50)] + [{"x": 1}, None]},
    }
    media = [
        {"media_key": f"3_{n}", "type": "photo", "url": f"https://pbs.twimg.com/media/{n}.jpg"}
        for n in range(50)
    ]
    media[0]["url"] = "javascript:alert(1)"
    media[1]["width"] = "huge"
    posts, _ = XConnector().normalise_payload({"data": [item], "includes": {"media": media}})

    kept = posts[0].attachments
    assert len(kept) == 10
    assert kept[0].url == "https://pbs.twimg.com/media/1.jpg" and kept[0].width == 0


# ---- ingest -----------------------------------------------------------------------------


def photo(n: int) -> Attachment:
    return Attachment("photo", f"https://pbs.twimg.com/media/{n}.jpg", "a receipt", 800, 600)


def test_ingest_stores_each_image_pending_once(x_channel, django_capture_on_commit_callbacks):
    page = [post(1, attachments=(photo(1), photo(2))), post(2), post(3, attachments=(photo(3),))]

    with django_capture_on_commit_callbacks() as callbacks:
        result = ingest(x_channel, page)
    ingest(x_channel, page)

    assert result.media == 3
    rows = list(MentionMedia.objects.order_by("mention__external_id", "position"))
    assert [(r.mention.external_id, r.position, r.source_url) for r in rows] == [
        ("10001", 0, "https://pbs.twimg.com/media/1.jpg"),
        ("10001", 1, "https://pbs.twimg.com/media/2.jpg"),
        ("10003", 0, "https://pbs.twimg.com/media/3.jpg"),
    ]
    assert {(r.state, r.alt_text, r.width, r.height) for r in rows} == {
        ("pending", "a receipt", 800, 600)
    }
    assert len(callbacks) == 1  # one fetch message for the page's three images


def test_ingest_stores_images_in_one_statement_whatever_the_page_size(x_channel):
    def statements(page):
        with CaptureQueriesContext(connection) as queries:
            ingest(x_channel, page)
        return len(queries)

    small = statements([post(n, attachments=(photo(n),)) for n in range(1, 3)])
    large = statements([post(n, attachments=(photo(n), photo(n + 500))) for n in range(3, 60)])
    plain = statements([post(n) for n in range(100, 140)])

    assert small == large
    assert plain == small - 1  # a page without images costs nothing more than before


def test_image_only_post_gets_a_subject(x_channel):
    ingest(x_channel, [post(1, text="", attachments=(photo(1),))])

    assert Case.objects.get().subject == IMAGE_ONLY_SUBJECT


# ---- the simulator, end to end ------------------------------------------------------------


def test_simulated_photos_go_from_a_poll_to_stored_files(simulator, settings, tmp_path):
    """Real tweepy against the simulator, ingest, then the fetch from the simulator's "CDN"."""
    from cases.media import fetch_media

    settings.X_API_BASE_URL = simulator.url
    settings.SIMULATOR_URL = simulator.url
    settings.MEDIA_ROOT = tmp_path
    channel = make_channel(
        "x", external_account_id="1000", handle="acme_support", credentials={"bearer_token": "t"}
    )
    simulator.publish("x", 12, account_id="1000", kind="mention")

    result = XConnector().fetch(channel, {})
    ingest(channel, result.posts)
    rows = list(MentionMedia.objects.all())

    assert len(rows) == sum(len(p.attachments) for p in result.posts) >= 2
    assert all(r.source_url.startswith(f"{simulator.url}/cdn/x/") for r in rows)
    assert fetch_media([r.pk for r in rows]) == {"fetched": len(rows)}
    stored = MentionMedia.objects.filter(state="fetched", content_type="image/png")
    assert stored.count() == len(rows)


def test_simulator_lists_media_only_when_asked(simulator):
    import requests

    ids = simulator.publish("x", 8, account_id="1000", kind="mention")
    url, auth = f"{simulator.url}/2/tweets", {"Authorization": "Bearer t"}

    plain = requests.get(url, params={"ids": ",".join(ids)}, headers=auth, timeout=5).json()
    asked = requests.get(
        url,
        params={
            "ids": ",".join(ids),
            "tweet.fields": "attachments",
            "expansions": "attachments.media_keys",
        },
        headers=auth,
        timeout=5,
    ).json()

    assert all("attachments" not in t for t in plain["data"]) and "includes" not in plain
    assert any("attachments" in t for t in asked["data"])
    media = asked["includes"]["media"]
    assert {tuple(sorted(m)) for m in media} == {("media_key", "type")}  # no media.fields
    image = requests.get(f"{simulator.url}/cdn/x/{media[0]['media_key'][2:]}.png", timeout=5)
    assert image.headers["Content-Type"] == "image/png" and image.content[:4] == b"\x89PNG"


def test_simulator_named_by_host_name_is_reached_over_a_real_socket(simulator, settings, tmp_path):
    """SIMULATOR_URL may name the simulator (compose's "simulator"): its address is private,
    and the desk fetches from it because it is that configured origin, nothing else."""
    from cases.media import fetch_one
    from tests.factories import make_case

    settings.MEDIA_ROOT = tmp_path
    named = simulator.url.replace("127.0.0.1", "localhost")
    settings.SIMULATOR_URL = named
    ids = simulator.publish("x", 8, account_id="1000", kind="mention")
    tweet_id = next(i for i in ids if int(i) % 4 == 1)
    mention = make_case(make_channel("x")).mentions.get()
    ok, other_port = (
        MentionMedia.objects.create(
            mention=mention, position=n, kind="photo", source_url=f"{base}/cdn/x/{tweet_id}.png"
        )
        for n, base in enumerate([named, "http://localhost:1"])
    )

    assert fetch_one(ok.pk) == "fetched"
    assert fetch_one(other_port.pk) == "refused"
    other_port.refresh_from_db()
    assert other_port.reason == "only HTTPS addresses are fetched"


def test_simulated_facebook_images_reach_stored_files(simulator, settings, tmp_path):
    """facebook-sdk against the simulator: post, comment and message photos, then the fetch."""
    from cases.media import fetch_media

    settings.FACEBOOK_GRAPH_URL = simulator.url
    settings.SIMULATOR_URL = simulator.url
    settings.MEDIA_ROOT = tmp_path
    channel = make_channel(
        "facebook", external_account_id="2000", credentials={"page_access_token": "t"}
    )
    simulator.publish("facebook", 40, account_id="2000")

    result = FacebookConnector().fetch(channel, {})
    ingest(channel, result.posts)

    with_images = {p.kind for p in result.posts if p.attachments}
    assert with_images >= {"visitor_post"} and len(with_images) >= 2
    rows = list(MentionMedia.objects.values_list("pk", flat=True))
    assert fetch_media(rows) == {"fetched": len(rows)}


def test_a_looked_up_tweet_brings_its_images_into_the_saved_record():
    from listening.connectors.x_lookup import merge_lookup

    saved = {"data": [{"id": "1861000000000000201", "text": "look https://t.co/Qm3xVt8kLp"}]}
    answer = load("x_mentions_media.json")
    found = {t["id"]: t for t in answer["data"]}
    users = {u["id"]: u for u in answer["includes"]["users"]}
    media = {m["media_key"]: m for m in answer["includes"]["media"]}

    record = merge_lookup(saved, found, users, media)
    posts, rejects = XConnector().normalise_payload(record)

    assert rejects == []
    assert [a.url for a in posts[0].attachments] == [
        "https://pbs.twimg.com/media/GdXb1aWXIAAq2Zk.jpg",
        "https://pbs.twimg.com/media/GdXb1aXWgAEd7Hn.png",
    ]
    assert len(record["includes"]["media"]) == 2  # only this tweet's images
