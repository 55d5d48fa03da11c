"""The images on a case, in a real browser: thumbnails, the larger view, refusals."""

import os

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from playwright.sync_api import expect

from cases.models import MentionMedia
from listening.simulator.media import png
from socialdesk import roles
from tests.conftest import make_channel, make_user, sign_in
from tests.factories import add_mention, make_case

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def stored_image(mention, position: int, seed: int, alt: str) -> MentionMedia:
    name = default_storage.save(
        f"post-images/test/{mention.pk}-{position}.png", ContentFile(png(seed))
    )
    return MentionMedia.objects.create(
        mention=mention,
        position=position,
        kind="photo",
        source_url=f"https://pbs.twimg.com/media/{seed}.png",
        alt_text=alt,
        width=320,
        height=200,
        state=MentionMedia.State.FETCHED,
        file=name,
        content_type="image/png",
        fetched_at=timezone.now(),
    )


def test_thumbnail_opens_the_stored_image_larger(browser, live_server, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    make_user("ana", roles.AGENT)
    channel = make_channel("x", name="Acme on X", handle="acme_support")
    case = make_case(
        channel,
        text="@acme_support the app fails at checkout, see below",
        name="Clara García",
        handle="clara_g",
    )
    mention = case.mentions.get()
    stored_image(mention, 0, 1, "Checkout error banner <code 51>")
    stored_image(mention, 1, 6, "")
    later = add_mention(case, "And the parcel arrived like this")
    MentionMedia.objects.create(
        mention=later,
        position=0,
        kind="video",
        source_url="https://video.example/clip.jpg",
        state=MentionMedia.State.REFUSED,
        reason="video.example is not a CDN the desk fetches from",
    )

    page = sign_in(browser, live_server, "ana")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    thumbs = page.locator(".tl__thumb img")
    expect(thumbs).to_have_count(2)
    expect(thumbs.first).to_have_attribute("alt", "Checkout error banner <code 51>")
    expect(thumbs.first).to_have_js_property("naturalWidth", 320)  # loaded, from the desk
    expect(page.get_by_text("could not be fetched: video.example is not a CDN")).to_be_visible()
    if os.environ.get("MEDIA_SCREENSHOTS"):
        page.screenshot(path=f"{os.environ['MEDIA_SCREENSHOTS']}/case-images.png", full_page=True)

    thumbs.first.click()
    viewer = page.locator("#media-viewer")
    expect(viewer).to_be_visible()
    expect(viewer.locator(".media-viewer__caption")).to_have_text("Checkout error banner <code 51>")
    expect(viewer.locator(".media-viewer__image")).to_have_js_property("naturalWidth", 320)
    if os.environ.get("MEDIA_SCREENSHOTS"):
        page.screenshot(path=f"{os.environ['MEDIA_SCREENSHOTS']}/case-image-viewer.png")
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()


def test_inbox_row_says_the_customer_attached_images(browser, live_server, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    make_user("ana", roles.AGENT)
    channel = make_channel("x", name="Acme on X", handle="acme_support")
    with_image = make_case(channel, text="The app crashes, screenshot attached", handle="clara_g")
    stored_image(with_image.mentions.get(), 0, 1, "")
    make_case(channel, text="When do you open on Sunday?", handle="jonas")

    page = sign_in(browser, live_server, "ana")
    page.goto(f"{live_server.url}/cases/")
    row = page.locator(f"tr[data-case-id='{with_image.pk}']")
    expect(row.locator(".has-images")).to_be_visible()
    expect(page.locator(".has-images")).to_have_count(1)
    if os.environ.get("MEDIA_SCREENSHOTS"):
        page.screenshot(path=f"{os.environ['MEDIA_SCREENSHOTS']}/inbox-paperclip.png")
