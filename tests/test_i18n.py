"""The desk in Spanish: the browser's Accept-Language or the user's choice picks the language
of the desk's own words; customers' words stay as they wrote them; English stays the default."""

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from cases.models import Reply
from tests.conftest import logged_in
from tests.factories import make_case

pytestmark = pytest.mark.usefixtures("clean_cache")


@pytest.fixture(autouse=True)
def _english_after_each_test():
    """A Spanish request leaves Spanish active in this thread: later tests expect the default."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


SPANISH = {"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"}
CATALOGUE = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES"


def test_the_inbox_speaks_spanish_to_a_spanish_browser(agent, x_channel):
    make_case(x_channel, text="@acme_support My order arrived broken, I want a refund")
    response = logged_in(agent).get(reverse("cases:list"), headers=SPANISH)
    html = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Language"] == "es"
    assert '<html lang="es">' in html
    assert "Bandeja" in html and "Filtros" in html and "Último mensaje" in html
    assert "1 caso abierto" in html
    assert "Prioridad alta" in html and "Míos" in html  # the desk's starter views
    assert "Cerrar sesión" in html
    assert "Latest message" not in html and "Sign out" not in html
    # The customer's words are never translated.
    assert "My order arrived broken, I want a refund" in html


def test_the_english_default_is_unchanged(agent, x_channel):
    make_case(x_channel)
    response = logged_in(agent).get(reverse("cases:list"))
    html = response.content.decode()
    assert response["Content-Language"] == "en"
    assert '<html lang="en">' in html
    assert "Latest message" in html and "1 open case" in html and "Sign out" in html
    assert "Último mensaje" not in html


def test_an_unoffered_language_falls_back_to_english(agent, x_channel):
    response = logged_in(agent).get(reverse("cases:list"), headers={"Accept-Language": "ja"})
    assert response["Content-Language"] == "en"
    assert "Latest message" in response.content.decode() or "No open cases" in (
        response.content.decode()
    )


def test_the_case_page_and_composer_in_spanish(agent, x_channel):
    case = make_case(x_channel, text="@acme_support Worst service ever", sentiment=-0.6)
    client = logged_in(agent)
    html = client.get(reverse("cases:detail", args=[case.pk]), headers=SPANISH).content.decode()
    assert f"Caso n.º {case.pk}" in html
    assert "Triaje y acciones" in html and "Conversación" in html
    assert "Worst service ever" in html  # the customer's post as written
    composer = client.get(reverse("cases:compose", args=[case.pk]), headers=SPANISH)
    text = composer.content.decode()
    assert "Enviar respuesta" in text or "Enviar para aprobación" in text
    assert "Send reply" not in text


def test_the_users_choice_outlasts_the_browsers_language(agent, x_channel):
    client = logged_in(agent)
    response = client.post(
        reverse("set_language"), {"language": "es", "next": reverse("cases:list")}
    )
    assert response.status_code == 302 and response["Location"] == reverse("cases:list")
    html = client.get(reverse("cases:list"), headers={"Accept-Language": "en"}).content.decode()
    assert "Bandeja" in html and "Cerrar sesión" in html
    # The selector offers both languages and shows the chosen one.
    assert '<option value="es" lang="es" selected>Español</option>' in html
    client.post(reverse("set_language"), {"language": "en", "next": reverse("cases:list")})
    assert "Sign out" in client.get(reverse("cases:list"), headers=SPANISH).content.decode()


def test_sign_in_page_follows_the_browser(client, db):
    html = client.get(reverse("login"), headers=SPANISH).content.decode()
    assert "Iniciar sesión" in html and "Contraseña" in html


@pytest.mark.parametrize(
    ("persona", "url_name", "spanish"),
    [
        ("supervisor", "cases:approvals", "Respuestas pendientes de aprobación"),
        ("agent", "cases:guidelines", "Pautas"),
        ("agent", "cases:canned_replies", "Respuestas predefinidas"),
        ("qa", "qa:queue", "Cola de revisión"),
        ("supervisor", "qa:dashboard", "Panel de calidad"),
        ("supervisor", "qa:dashboard", "Últimas 4 semanas"),
        ("qa", "qa:calibration_list", "Aún no hay sesiones de calibración"),
        ("agent", "qa:my_reviews", "Mis revisiones"),
        ("admin", "listening:health", "Canales"),
        ("supervisor", "qa:dashboard", "Niveles de servicio cumplidos"),
        ("agent", "notifications:list", "No hay notificaciones"),
    ],
)
def test_every_roles_pages_are_translated(request, persona, url_name, spanish):
    user = request.getfixturevalue(persona)
    response = logged_in(user).get(reverse(url_name), headers=SPANISH)
    assert response.status_code == 200
    assert spanish in response.content.decode()


def test_choice_labels_and_check_labels_follow_the_language(supervisor, x_channel, agent):
    case = make_case(x_channel)
    Reply.objects.create(
        case=case,
        author=agent,
        text="Calm down.",
        state=Reply.State.AWAITING_APPROVAL,
        checks=[{"code": "tone", "severity": "warn", "message": "Rephrase."}],
    )
    html = logged_in(supervisor).get(reverse("cases:approvals"), headers=SPANISH).content.decode()
    assert "Tono" in html  # the check's label
    with translation.override("es"):
        assert str(Reply.State.SENT.label) == "Enviada"


def test_the_compiled_catalogue_matches_its_source():
    """The .mo is committed beside the .po: a change to one without the other shows here."""
    import gettext

    with (CATALOGUE / "django.mo").open("rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)
    source = (CATALOGUE / "django.po").read_text()
    msgids = source.count('\nmsgid "') - 1  # less the header
    assert len(catalogue._catalog) - 1 >= msgids  # plurals add entries, the header one
    assert catalogue.gettext("Latest message") == "Último mensaje"
    assert 'msgstr ""\n\n' not in source.split("\n\n", 1)[1]  # nothing left untranslated
    assert "fuzzy" not in source  # msgfmt leaves fuzzy entries out of the .mo


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_choosing_espanol_in_the_top_bar_turns_the_desk_spanish(browser, live_server):
    from playwright.sync_api import expect

    from socialdesk import roles
    from tests.conftest import make_channel, make_user, sign_in

    make_case(make_channel("x"), text="@acme_support Mi pedido llegó roto", language="es")
    make_user("alex", roles.AGENT)
    page = sign_in(browser, live_server, "alex")
    expect(page.locator("h1")).to_have_text("Inbox")
    page.select_option("#desk-language", "es")  # sends the form: no button to press
    expect(page.locator("h1")).to_have_text("Bandeja")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_text("Mi pedido llegó roto")).to_be_visible()


def test_the_checks_panel_speaks_spanish_but_the_stored_checks_stay_english(agent, x_channel):
    import re

    case = make_case(x_channel, text="@acme_support Pedido roto otra vez", language="es")
    case.sentiment = -0.7
    case.save(update_fields=["sentiment"])
    client = logged_in(agent)
    text = "Tu pedido ya esta en camino, recivirás un mensage."
    panel = client.post(
        reverse("cases:checks", args=[case.pk]),
        {"text": text, "visibility": "public"},
        headers={**SPANISH, "HX-Request": "true"},
    ).content.decode()
    assert "Revisa la ortografía de" in panel and "&quot;mensage&quot; (mensaje?)" in panel
    assert "Envíanos un mensaje privado" in panel  # the example, in the customer's language
    assert "invítalo a continuar en privado" in panel
    assert "Check the spelling" not in panel

    compose = client.get(
        reverse("cases:compose", args=[case.pk]), headers={**SPANISH, "HX-Request": "true"}
    ).content.decode()
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', compose))
    target = re.search(r'<option value="(\d+)" selected>', compose)
    fields |= {"text": text, "visibility": "public", "in_reply_to": target.group(1)}
    response = client.post(
        reverse("cases:send", args=[case.pk]), fields, headers={**SPANISH, "HX-Request": "true"}
    )
    assert response.status_code == 200
    stored = {check["code"]: check["message"] for check in Reply.objects.get().checks}
    assert stored["spelling"].startswith('Check the spelling of "recivirás"')
    assert stored["offline"].startswith("The customer is unhappy")


def test_timeline_events_are_worded_in_the_readers_language():
    from cases.models import CaseEvent
    from cases.timeline import describe_event

    event = CaseEvent(kind=CaseEvent.Kind.STATUS, data={"from": "new", "to": "resolved"})
    assert describe_event(event) == "changed the status from New to Resolved"
    with translation.override("es"):
        assert describe_event(event) == "cambió el estado de Nuevo a Resuelto"


# ---------- service levels, teams, notifications ----------


def test_the_inbox_sla_clocks_sort_and_filter_in_spanish(agent, x_channel):
    import re
    from datetime import timedelta

    from sla.models import Policy

    Policy.objects.create(name="Two hours", first_response_minutes=120, warn_percent=50)
    make_case(x_channel, handle="soon", waited=timedelta(minutes=70))
    make_case(x_channel, handle="late", waited=timedelta(minutes=150))
    response = logged_in(agent).get(reverse("cases:list"), {"sort": "due"}, headers=SPANISH)
    html = response.content.decode()
    assert '<option value="due" selected>SLA más próximo a vencer</option>' in html
    assert "primero los que vencen antes" in html
    assert "Vence pronto o vencido" in html and "Nivel de servicio" in html
    badges = re.findall(r'badge--sla-(\w+)" title="([^"]+)">([^<]+)<', html)
    assert [state for state, _, _ in badges] == ["breached", "warning"]
    assert badges[0][2] == "SLA vencido"
    assert re.fullmatch(r"SLA: quedan (49|50) min", badges[1][2])
    # The clock's name, and the due date with Spanish day and month names.
    weekdays = "lun|mar|mié|jue|vie|sáb|dom"
    assert re.fullmatch(
        rf"Primera respuesta vencida hace 30 min \(vencía el ({weekdays}) \d\d \w+, \d\d:\d\d\)",
        badges[0][1],
    )
    assert re.fullmatch(
        rf"Primera respuesta: vence el ({weekdays}) \d\d \w+, \d\d:\d\d", badges[1][1]
    )
    assert "SLA overdue" not in html and "First response" not in html


def test_notifications_speak_the_readers_language_but_are_stored_in_the_desks(
    agent, supervisor, x_channel
):
    from cases.actions import do_assign_case
    from notifications.actions import do_notify
    from notifications.models import Kind, Notification

    case = make_case(x_channel, text="@acme_support My router is broken again")
    with translation.override("es"):  # a Spanish request writes the row: it stays English
        do_assign_case(case, agent, actor=supervisor)
    do_notify([agent], Kind.SLA_BREACHED, case=case, dedupe_key="sla:test")
    do_notify([agent], Kind.MENTIONED, case=case, title="A line of the caller's own")
    stored = Notification.objects.get(recipient=agent, kind=Kind.ASSIGNED).title
    assert stored.startswith(f"sam_supervisor assigned case #{case.pk} to you: ")

    client = logged_in(agent)
    html = client.get(reverse("notifications:list"), headers=SPANISH).content.decode()
    assert "Notificaciones" in html and "3 sin leer" in html and "Marcar todas como leídas" in html
    assert f"sam_supervisor te ha asignado el caso n.º {case.pk}: " in html
    assert "My router is broken again" in html  # the customer's words as written
    assert f"El caso n.º {case.pk} ha incumplido su SLA" in html
    assert ">Asignado<" in html and ">SLA incumplido<" in html and ">Mención<" in html
    assert "A line of the caller&#x27;s own" in html  # not the kind's wording: as stored
    assert "assigned case" not in html and "Mark all read" not in html

    panel = client.get(
        reverse("notifications:list"), headers={**SPANISH, "HX-Request": "true"}
    ).content.decode()
    assert "Ver todas" in panel and "Ajustes de correo" in panel
    assert f"El caso n.º {case.pk} ha incumplido su SLA" in panel
    bell = client.get(reverse("notifications:bell"), headers=SPANISH).content.decode()
    assert ", 3 sin leer" in bell

    done = client.post(reverse("notifications:read_all"), headers=SPANISH, follow=True)
    assert "3 notificaciones marcadas como leídas." in done.content.decode()


def test_the_notification_preferences_page_in_spanish(agent):
    client = logged_in(agent)
    html = client.get(reverse("notifications:preferences"), headers=SPANISH).content.decode()
    assert "Correos de notificaciones" in html and "Envíame también un correo cuando" in html
    assert "Se te asigna un caso" in html and "Un caso ha incumplido su SLA" in html
    assert "Tu cuenta no tiene dirección de correo" in html  # the persona has none
    assert "Also e-mail me when" not in html
    saved = client.post(
        reverse("notifications:preferences"),
        {"email_kinds": ["assigned"], "daily_digest": "on"},
        headers=SPANISH,
        follow=True,
    )
    assert "Tus correos de notificaciones quedan configurados." in saved.content.decode()


def test_notification_emails_are_written_in_the_desks_language(agent, x_channel):
    from notifications.actions import do_notify
    from notifications.delivery import compose, compose_digest
    from notifications.models import Kind, Notification

    do_notify([agent], Kind.SLA_WARNING, case=make_case(x_channel), dedupe_key="sla:soon")
    row = Notification.objects.get(recipient=agent)
    with translation.override("es"):  # whatever the worker's thread has active
        subject, body = compose(row)
        digest_subject, digest = compose_digest([row])
    assert "is about to breach its SLA" in subject and "Choose what you get by e-mail" in body
    assert digest_subject.endswith("1 unread notification")
    assert "You have 1 unread notification on SocialDesk:" in digest


def test_the_transfer_page_and_its_errors_in_spanish(agent, supervisor):
    from socialdesk import roles
    from tests.conftest import make_channel, make_user
    from tests.factories import make_team

    care = make_team("Care", [supervisor], [agent])
    make_team("Billing", [supervisor], [make_user("bea_agent", roles.AGENT)])
    case = make_case(make_channel(team=care))
    client = logged_in(agent)
    url = reverse("cases:transfer", args=[case.pk])
    html = client.get(url, headers=SPANISH).content.decode()
    assert f"Transferir el caso n.º {case.pk}" in html
    assert "Ahora pertenece a <strong>Care</strong>." in html
    assert "Elige un equipo" in html and "Nota para el equipo" in html
    assert "Transfer case" not in html and "Choose a team" not in html
    refused = client.post(url, {"team": "", "note": ""}, headers=SPANISH).content.decode()
    assert "Elige el equipo al que transferir el caso." in refused
    assert "Escribe una nota para el equipo: por qué le corresponde el caso." in refused
    page = client.get(reverse("cases:detail", args=[case.pk]), headers=SPANISH).content.decode()
    assert "Transferir a otro equipo…" in page and ">Equipo</h3>" in page


def test_the_service_level_admin_in_spanish(admin):
    from sla.models import Policy

    Policy.objects.create(name="VIP fast", first_response_minutes=30, customer_flag="vip")
    client = logged_in(admin)
    listing = client.get(reverse("admin:sla_policy_changelist"), headers=SPANISH)
    html = listing.content.decode()
    assert "Se aplica a" in html and "clientes VIP" in html and "Siguiente respuesta" in html
    add = client.get(reverse("admin:sla_policy_add"), headers=SPANISH).content.decode()
    assert "Objetivos (minutos de horario laboral)" in add and "Prioridad mínima" in add
    assert "Las políticas se prueban en este orden" in add and ">Prensa<" in add
    refused = client.post(
        reverse("admin:sla_policy_add"),
        {
            "name": "Odd",
            "position": "10",
            "first_response_minutes": "15",
            "warn_percent": "75",
            "priority_min": "80",
            "priority_max": "20",
        },
        headers=SPANISH,
    ).content.decode()
    assert "El extremo superior de la franja no puede quedar por debajo del inferior." in refused
    hours = client.get(reverse("admin:sla_businesshours_add"), headers=SPANISH).content.decode()
    assert ">miércoles<" in hours and "Festivos" in hours


def test_every_catalogue_entry_is_translated_and_none_is_guessed():
    """Each entry, singular and plural forms alike, has a translation, and none is a fuzzy
    guess left by makemessages (msgfmt leaves those out, so the page would show English)."""
    import ast

    entries = (CATALOGUE / "django.po").read_text().split("\n\n")[1:]  # less the header
    missing, fuzzy = [], []
    for entry in entries:
        lines = entry.strip().splitlines()
        msgid = next(ast.literal_eval(line[6:]) for line in lines if line.startswith("msgid "))
        if any(line.startswith("#,") and "fuzzy" in line for line in lines):
            fuzzy.append(msgid)
        strings = [line.split(" ", 1)[1] for line in lines if line.startswith("msgstr")]
        if not strings or any(ast.literal_eval(s) == "" for s in strings):
            missing.append(msgid)
    assert len(entries) > 1000
    assert missing == [] and fuzzy == []
