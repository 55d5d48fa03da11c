"""Fetching post images into storage, serving them to the desk, showing them on the timeline.

The CDN is faked at the HTTP edge (`responses`), and name resolution at the DNS edge (the
machine running the tests may have no resolver): `dns` answers for the hosts a test names.
"""

import base64
import socket
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from cases import media
from cases.media import fetch_one, waiting_media
from cases.models import MentionMedia
from tests.conftest import logged_in
from tests.factories import add_mention, make_case

pytestmark = pytest.mark.django_db

# A real 1x1 PNG and a GIF header: what the sniffing must accept.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,"
CDN = "https://pbs.twimg.com/media/GdXb1aWXIAAq2Zk.png"
PUBLIC = {"pbs.twimg.com": "151.101.36.159", "scontent.xx.fbcdn.net": "157.240.0.35"}


@pytest.fixture(autouse=True)
def stored_files(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SIMULATOR_URL = ""
    return settings.MEDIA_ROOT


@pytest.fixture
def dns(monkeypatch):
    """Answers for the test's host names; "localhost" still goes to the real resolver."""
    table = dict(PUBLIC)
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in table:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (table[host], port))]
        if host == "localhost":
            return real(host, port, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(media, "getaddrinfo", getaddrinfo)
    return table


def image(x_channel, url: str = CDN, **fields) -> MentionMedia:
    case = make_case(x_channel, text="Payment fails, see the screenshot")
    return MentionMedia.objects.create(
        mention=case.mentions.get(), position=0, kind="photo", source_url=url, **fields
    )


def refused_reason(row: MentionMedia) -> str:
    assert fetch_one(row.pk) == "refused"
    row.refresh_from_db()
    assert row.state == MentionMedia.State.REFUSED and not row.file
    return row.reason


# ---- fetch ------------------------------------------------------------------------------


def test_fetch_stores_the_image_through_the_storage(x_channel, rsps, dns):
    row = image(x_channel)
    rsps.get(CDN, body=PNG, content_type="image/png")

    assert fetch_one(row.pk) == "fetched"

    row.refresh_from_db()
    assert row.state == MentionMedia.State.FETCHED
    assert (row.content_type, row.size, row.attempts) == ("image/png", len(PNG), 1)
    assert default_storage.open(row.file.name).read() == PNG
    # No Pillow on this install: the timeline scales the image itself.
    assert row.shown_file == row.file.name


def test_fetch_runs_once_for_a_claimed_row(x_channel, rsps, dns):
    row = image(x_channel)
    rsps.get(CDN, body=PNG)

    assert fetch_one(row.pk) == "fetched"
    assert fetch_one(row.pk) == "skipped"
    assert len(rsps.calls) == 1


def test_type_is_sniffed_from_the_bytes_not_the_header(x_channel, rsps, dns):
    row = image(x_channel)
    rsps.get(CDN, body=GIF, content_type="image/png")

    fetch_one(row.pk)

    row.refresh_from_db()
    assert row.content_type == "image/gif" and row.file.name.endswith(".gif")


@pytest.mark.parametrize(
    "body",
    [b"<html><script>alert(1)</script></html>", b"%PDF-1.7 ...", b"\x00\x00\x00\x18ftypmp42"],
)
def test_a_body_that_is_not_an_image_is_refused(x_channel, rsps, dns, body):
    row = image(x_channel)
    rsps.get(CDN, body=body, content_type="image/jpeg")

    assert refused_reason(row) == "not a JPEG, PNG, GIF or WebP image"


def test_plain_http_is_refused_without_a_request(x_channel, rsps, dns):
    row = image(x_channel, url="http://pbs.twimg.com/media/a.jpg")

    assert refused_reason(row) == "only HTTPS addresses are fetched"
    assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/a.png",
        "https://pbs.twimg.com.evil.example/a.png",
        "https://fbcdn.net.example.org/a.png",
        "https://169.254.169.254/latest/meta-data/",
    ],
)
def test_hosts_off_the_allow_list_are_refused(x_channel, rsps, dns, url):
    row = image(x_channel, url=url)

    assert "is not a CDN the desk fetches from" in refused_reason(row)
    assert len(rsps.calls) == 0


def test_subdomains_of_a_wildcard_host_are_allowed(x_channel, rsps, dns):
    dns["scontent-fra3-1.xx.fbcdn.net"] = "157.240.0.36"
    url = "https://scontent-fra3-1.xx.fbcdn.net/v/t39.30808-6/468000001_n.jpg?oe=674A1B2C"
    row = image(x_channel, url=url)
    rsps.get(url, body=PNG)

    assert fetch_one(row.pk) == "fetched"


def test_an_allowed_name_that_resolves_to_a_private_address_is_refused(x_channel, rsps, dns):
    dns["scontent.xx.fbcdn.net"] = "10.0.0.7"
    row = image(x_channel, url="https://scontent.xx.fbcdn.net/v/x.png")

    assert refused_reason(row) == "the image's host resolves to a private address"
    assert len(rsps.calls) == 0


def test_loopback_is_refused_after_real_resolution(x_channel, rsps, dns, settings):
    settings.MEDIA_FETCH_HOSTS = ["localhost"]
    row = image(x_channel, url="https://localhost/admin.png")

    assert refused_reason(row) == "the image's host resolves to a private address"


def test_redirect_to_another_host_is_refused(x_channel, rsps, dns):
    row = image(x_channel)
    rsps.get(CDN, status=302, headers={"Location": "https://metadata.internal/secret"})

    assert "metadata.internal is not a CDN the desk fetches from" in refused_reason(row)
    assert len(rsps.calls) == 1


def test_redirect_within_the_allow_list_is_followed(x_channel, rsps, dns):
    row = image(x_channel)
    moved = "https://scontent.xx.fbcdn.net/v/moved.png"
    rsps.get(CDN, status=301, headers={"Location": moved})
    rsps.get(moved, body=PNG)

    assert fetch_one(row.pk) == "fetched"


def test_oversize_image_is_refused_by_its_declared_length(x_channel, rsps, dns, settings):
    settings.MEDIA_FETCH_MAX_BYTES = 1024
    row = image(x_channel)
    rsps.get(CDN, body=PNG + b"\x00" * 4096)

    assert refused_reason(row) == "the image is larger than 1 KB"


def test_oversize_body_without_a_length_is_cut_off_while_streaming(x_channel, rsps, dns, settings):
    settings.MEDIA_FETCH_MAX_BYTES = 100_000
    row = image(x_channel)
    rsps.get(CDN, body=PNG + b"\x00" * 2_000_000, auto_calculate_content_length=False)

    assert refused_reason(row) == "the image is larger than 97.7 KB"
    assert "Content-Length" not in rsps.calls[0].response.headers


def test_server_error_is_retried_later_then_given_up(x_channel, rsps, dns, settings):
    settings.MEDIA_FETCH_ATTEMPTS = 2
    row = image(x_channel)
    rsps.get(CDN, status=503)

    assert fetch_one(row.pk) == "retry"
    row.refresh_from_db()
    assert row.state == MentionMedia.State.PENDING
    assert row.next_attempt_at > timezone.now() + timedelta(seconds=50)
    assert fetch_one(row.pk) == "skipped"  # not due yet

    MentionMedia.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert refused_reason(row) == "gave up after 2 attempts: the CDN answered 503"


def test_unresolvable_host_is_retried(x_channel, rsps, dns):
    del dns["pbs.twimg.com"]
    row = image(x_channel)

    assert fetch_one(row.pk) == "retry"
    row.refresh_from_db()
    assert row.reason == "pbs.twimg.com could not be resolved"


def test_sweep_finds_lost_and_abandoned_rows_only(x_channel, settings):
    now = timezone.now()
    fresh = image(x_channel)
    lost = image(x_channel, next_attempt_at=now - timedelta(minutes=5))
    abandoned = image(
        x_channel,
        state=MentionMedia.State.FETCHING,
        claimed_at=now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 5),
    )
    image(x_channel, state=MentionMedia.State.FETCHING, claimed_at=now)
    image(x_channel, state=MentionMedia.State.REFUSED, next_attempt_at=now - timedelta(hours=1))

    assert set(waiting_media()) == {lost.pk, abandoned.pk}
    assert fresh.pk not in waiting_media()


def test_simulator_origin_is_fetched_over_http_only_when_configured(x_channel, rsps, settings):
    url = "http://127.0.0.1:8100/cdn/x/1.png"
    row = image(x_channel, url=url)
    rsps.get(url, body=PNG)

    assert refused_reason(row) == "only HTTPS addresses are fetched"

    settings.SIMULATOR_URL = "http://127.0.0.1:8100"
    other = image(x_channel, url=url)
    assert fetch_one(other.pk) == "fetched"


# ---- serving ----------------------------------------------------------------------------


@pytest.fixture
def stored(x_channel, rsps, dns) -> MentionMedia:
    row = image(x_channel, alt_text="receipt")
    rsps.get(CDN, body=PNG)
    fetch_one(row.pk)
    row.refresh_from_db()
    return row


@pytest.mark.parametrize("persona", ["agent", "qa", "supervisor", "admin"])
def test_case_readers_get_the_stored_image(request, persona, stored):
    response = logged_in(request.getfixturevalue(persona)).get(
        reverse("cases:media", args=[stored.pk])
    )

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["Cache-Control"].startswith("private")


def test_outsider_and_anonymous_get_no_image(outsider, client, stored):
    url = reverse("cases:media-thumb", args=[stored.pk])

    assert logged_in(outsider).get(url).status_code == 403
    anonymous = client.get(url)
    assert anonymous.status_code in (302, 401) and not getattr(anonymous, "streaming", False)


def test_unfetched_image_is_404(agent, x_channel):
    row = image(x_channel, state=MentionMedia.State.REFUSED, reason="nope")

    assert logged_in(agent).get(reverse("cases:media", args=[row.pk])).status_code == 404


def test_no_public_media_url_serves_the_file(agent, stored):
    assert logged_in(agent).get("/media/" + stored.file.name).status_code == 404


# ---- timeline ---------------------------------------------------------------------------


def test_timeline_shows_thumbnails_escaped_alt_text_and_refusals(agent, x_channel, rsps, dns):
    row = image(x_channel, alt_text='"><img src=x onerror=alert(1)> receipt')
    rsps.get(CDN, body=PNG)
    fetch_one(row.pk)
    MentionMedia.objects.create(
        mention=row.mention,
        position=1,
        kind="video",
        source_url="https://evil.example/v.jpg",
        state=MentionMedia.State.REFUSED,
        reason="evil.example is not a CDN the desk fetches from",
    )
    MentionMedia.objects.create(mention=row.mention, position=2, kind="gif", source_url=CDN)

    page = logged_in(agent).get(reverse("cases:detail", args=[row.mention.case_id]))
    html = page.content.decode()

    assert page.status_code == 200
    assert f'href="{reverse("cases:media", args=[row.pk])}"' in html
    assert f'src="{reverse("cases:media-thumb", args=[row.pk])}"' in html
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt; receipt" in html
    assert "<img src=x" not in html
    assert "Video thumbnail could not be fetched: evil.example is not a CDN" in html
    assert "GIF is being fetched" in html
    assert "pbs.twimg.com" not in html  # never hot-linked
    assert "js/media.js" in html


def test_case_page_queries_do_not_grow_with_images(agent, x_channel, django_assert_max_num_queries):
    case = make_case(x_channel, text="first")
    for n in range(6):
        mention = add_mention(case, f"more {n}")
        for position in range(3):
            MentionMedia.objects.create(
                mention=mention, position=position, kind="photo", source_url=CDN
            )
    client = logged_in(agent)
    client.get(reverse("cases:detail", args=[case.pk]))  # warm the session and caches

    with django_assert_max_num_queries(40) as queries:
        client.get(reverse("cases:detail", args=[case.pk]))
    media_queries = [q for q in queries.captured_queries if "cases_mentionmedia" in q["sql"]]
    assert len(media_queries) == 1


# ---- retry and erasure ------------------------------------------------------------------


def test_refused_images_can_be_fetched_again_from_the_admin(
    admin, x_channel, rsps, dns, django_capture_on_commit_callbacks
):
    refused = image(x_channel, state=MentionMedia.State.REFUSED, reason="CDN down", attempts=5)
    fetched = image(x_channel, state=MentionMedia.State.FETCHED, file="post-images/x.png")
    rsps.get(CDN, body=PNG)

    with django_capture_on_commit_callbacks() as callbacks:
        response = logged_in(admin).post(
            reverse("admin:cases_mentionmedia_changelist"),
            {"action": "fetch_again", "_selected_action": [refused.pk, fetched.pk]},
        )

    assert response.status_code == 302
    refused.refresh_from_db()
    assert (refused.state, refused.attempts, refused.reason) == ("pending", 0, "")
    assert len(callbacks) == 1
    assert fetch_one(refused.pk) == "fetched"
    fetched.refresh_from_db()
    assert fetched.file.name == "post-images/x.png"


def test_erasing_a_mentions_images_deletes_their_files(x_channel, rsps, dns):
    row = image(x_channel)
    rsps.get(CDN, body=PNG)
    fetch_one(row.pk)
    row.refresh_from_db()
    assert default_storage.exists(row.file.name)

    assert media.erase_media([row.mention_id]) == 1

    assert not default_storage.exists(row.file.name)
    assert not MentionMedia.objects.exists()
