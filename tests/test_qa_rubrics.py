"""The default rubric, versioned editing (in code and in the admin)."""

import pytest
from django.test import Client

from qa.models import Criterion, Review, Rubric
from qa.reviews import do_create_review, do_submit_review
from qa.rubrics import (
    DEFAULT_RUBRIC_NAME,
    criteria_specs,
    default_rubric,
    do_edit_rubric,
    rubric_in_use,
)
from tests.factories import make_sent_reply


def test_default_rubric_follows_the_seeds(db):
    rubric = default_rubric()
    codes = list(rubric.criteria.order_by("position").values_list("code", flat=True))
    assert codes == [
        "right_person",
        "spelling",
        "punctuation",
        "accuracy",
        "tact_empathy",
        "offline",
        "network_norms",
        "response_time",
    ]
    by_code = {c.code: c for c in rubric.criteria.all()}
    assert by_code["offline"].allow_na and not by_code["spelling"].allow_na
    assert [c.code for c in by_code.values() if c.critical] == ["network_norms"]
    assert by_code["accuracy"].auto_check == ""  # judged by a person only
    assert all(c.guidance for c in by_code.values())
    assert {c.scale for c in by_code.values()} == {"yes_no", "1_3", "1_5"}


def test_default_rubric_is_created_once(db):
    assert default_rubric().pk == default_rubric().pk
    assert Rubric.objects.filter(name=DEFAULT_RUBRIC_NAME).count() == 1


def test_editing_an_unused_rubric_changes_it_in_place(db):
    rubric = default_rubric()
    specs = criteria_specs(rubric)
    specs[0]["weight"] = 4.0
    edited = do_edit_rubric(rubric, criteria=specs)
    assert edited.pk == rubric.pk and edited.version == 1
    assert rubric.criteria.get(code="right_person").weight == 4.0


def test_editing_a_rubric_in_use_makes_a_new_version_and_old_reviews_keep_theirs(
    x_channel, agent, qa
):
    v1 = default_rubric()
    review = do_create_review(reply=make_sent_reply(agent, x_channel), reviewer=qa, kind="sample")
    assert rubric_in_use(v1)
    specs = criteria_specs(v1)
    specs[3]["weight"] = 5.0
    specs.append({"code": "brand_voice", "name": "Brand voice", "scale": "1_5", "weight": 1.0})
    v2 = do_edit_rubric(v1, criteria=specs)

    assert (v2.version, v2.previous_id, v2.is_active) == (2, v1.pk, True)
    v1.refresh_from_db()
    assert not v1.is_active
    assert v1.criteria.count() == 8 and v2.criteria.count() == 9
    assert v1.criteria.get(code="accuracy").weight == 3.0
    assert v2.criteria.get(code="accuracy").weight == 5.0
    review.refresh_from_db()
    assert review.rubric_id == v1.pk
    assert default_rubric().pk == v2.pk
    # the old review is still submitted against v1's criteria
    values = {c.pk: c.max_value for c in v1.criteria.all()}
    assert do_submit_review(review, values, "").score == 100.0
    new_review = do_create_review(
        reply=make_sent_reply(agent, x_channel), reviewer=qa, kind="sample"
    )
    assert new_review.rubric_id == v2.pk


def test_an_edit_that_changes_nothing_makes_no_version(x_channel, agent, qa):
    v1 = default_rubric()
    do_create_review(reply=make_sent_reply(agent, x_channel), reviewer=qa, kind="sample")
    assert do_edit_rubric(v1, criteria=criteria_specs(v1)).pk == v1.pk
    assert Rubric.objects.count() == 1


def test_an_old_version_cannot_be_edited_again(x_channel, agent, qa):
    v1 = default_rubric()
    do_create_review(reply=make_sent_reply(agent, x_channel), reviewer=qa, kind="sample")
    specs = criteria_specs(v1)
    specs[0]["weight"] = 3.0
    do_edit_rubric(v1, criteria=specs)
    specs[0]["weight"] = 7.0
    with pytest.raises(ValueError, match="newer version"):
        do_edit_rubric(v1, criteria=specs)


def test_duplicate_codes_are_refused(db):
    rubric = default_rubric()
    specs = criteria_specs(rubric)
    specs[1]["code"] = specs[0]["code"]
    with pytest.raises(ValueError, match="own code"):
        do_edit_rubric(rubric, criteria=specs)


def _admin_post(rubric: Rubric, *, weight_of_first: float) -> dict:
    criteria = list(rubric.criteria.order_by("position", "id"))
    data = {
        "name": rubric.name,
        "is_active": "on" if rubric.is_active else "",
        "criteria-TOTAL_FORMS": str(len(criteria)),
        "criteria-INITIAL_FORMS": str(len(criteria)),
        "criteria-MIN_NUM_FORMS": "0",
        "criteria-MAX_NUM_FORMS": "1000",
        "_continue": "1",
    }
    for i, c in enumerate(criteria):
        data.update(
            {
                f"criteria-{i}-id": str(c.pk),
                f"criteria-{i}-rubric": str(rubric.pk),
                f"criteria-{i}-code": c.code,
                f"criteria-{i}-name": c.name,
                f"criteria-{i}-guidance": c.guidance,
                f"criteria-{i}-weight": str(weight_of_first if i == 0 else c.weight),
                f"criteria-{i}-scale": c.scale,
                f"criteria-{i}-auto_check": c.auto_check,
                f"criteria-{i}-position": str(c.position),
            }
        )
        if c.allow_na:
            data[f"criteria-{i}-allow_na"] = "on"
        if c.critical:
            data[f"criteria-{i}-critical"] = "on"
    return data


def test_admin_saving_a_used_rubric_makes_a_version(x_channel, agent, qa, admin):
    v1 = default_rubric()
    review = do_create_review(reply=make_sent_reply(agent, x_channel), reviewer=qa, kind="sample")
    client = Client()
    client.force_login(admin)
    url = f"/admin/qa/rubric/{v1.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(url, _admin_post(v1, weight_of_first=6.0))
    assert response.status_code == 302, response.content.decode()[:2000]
    v2 = Rubric.objects.get(name=v1.name, version=2)
    assert response["Location"] == f"/admin/qa/rubric/{v2.pk}/change/"
    assert v2.criteria.get(code="right_person").weight == 6.0
    assert Criterion.objects.get(rubric=v1, code="right_person").weight == 2.0
    assert Review.objects.get(pk=review.pk).rubric_id == v1.pk
    page = client.get(response["Location"]).content.decode()
    assert "v1" in page and "v2" in page  # the versions are listed


def test_admin_saving_an_unused_rubric_edits_in_place(admin):
    v1 = default_rubric()
    client = Client()
    client.force_login(admin)
    response = client.post(
        f"/admin/qa/rubric/{v1.pk}/change/", _admin_post(v1, weight_of_first=2.5)
    )
    assert response.status_code == 302
    assert Rubric.objects.count() == 1
    assert v1.criteria.get(code="right_person").weight == 2.5
