"""`manage.py load_demo`: demo users (one per role), channels on the simulator's defaults, and
the desk's starting content: labels, canned replies and the engagement guidelines.

Idempotent: `make run` calls it on every start. Existing channels are left as they are (their
cursor above all, so a restart does not re-read what was already ingested); users get their
role and demo password back. Labels and canned replies are added by name/title if missing; the
guidelines are written only when the desk has none (an admin's edits are kept). Refuses to run
without DEBUG unless --force: the demo passwords are public.

QA: the default rubric, a weekly sampling policy, the "Care team" (the demo agents and
quinn, supervised by sasha) and, once, a handful of demo conversations with sent replies whose
reviews by quinn are partly submitted (for the dashboards) and partly pending (for the review
queue); blair
disputes one review and has a coaching session planned with sasha; and a press enquiry waits
with alex's answer for a supervisor's approval (the desk asks approval on escalated cases).

The demo spans the apps (listening's channels, the desk, QA), so it lives at the project level.
Its conversations come in the way every post does, through `listening.ingest.ingest()`; only
what the desk's people did since (triage, assignment, answers, resolution) is then set on them.
"""

import os
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from cases.checks import run_checks
from cases.models import (
    CannedReply,
    CannedReplyVariant,
    Case,
    CaseStatus,
    DeskSettings,
    EngagementGuidelines,
    Label,
    Reply,
    Triage,
)
from cases.sla import refresh_case_sla
from csat.demo import load_demo_surveys
from listening.ingest import ingest
from listening.models import Channel, ListeningRule, Mention, Network, QuarantinedPost
from listening.posts import Author, InboundPost
from socialdesk import roles

# username, role, password, full name
DEMO_USERS: list[tuple[str, str, str, str]] = [
    ("alex", roles.AGENT, "demo-alex-2026", "Alex Agent"),
    ("blair", roles.AGENT, "demo-blair-2026", "Blair Agent"),
    ("casey", roles.AGENT, "demo-casey-2026", "Casey Agent"),
    ("quinn", roles.QA, "demo-quinn-2026", "Quinn QA"),
    ("sasha", roles.SUPERVISOR, "demo-sasha-2026", "Sasha Supervisor"),
    ("admin", roles.ADMIN, "demo-admin-2026", "Ada Admin"),
]

# The simulator registers these accounts by default (X user 1000, Facebook page 2000, and the
# Instagram account 17841400000000001 linked to that page).
DEMO_CHANNELS: list[dict] = [
    {
        "network": Network.X,
        "external_account_id": "1000",
        "name": "Acme Support",
        "handle": "@acme_support",
        "credentials": {"bearer_token": "demo-x-token"},
        "rules": [("Product complaints", "acme (refund OR broken OR cancel) -is:retweet")],
    },
    {
        "network": Network.FACEBOOK,
        "external_account_id": "2000",
        "name": "Acme",
        "handle": "Acme",
        "credentials": {"page_access_token": "demo-page-token"},
        "rules": [],
    },
    {
        "network": Network.INSTAGRAM,
        "external_account_id": "17841400000000001",
        "name": "Acme on Instagram",
        "handle": "acme",
        "credentials": {"page_access_token": "demo-page-token", "page_id": "2000"},
        "rules": [],
    },
]
DEMO_POLL_INTERVAL = 5  # seconds: the demo should show mentions arriving at once

# Teams: name, the channels it owns (network, account id), members, supervisors. Alex and
# Blair work X and Instagram, Casey the Facebook page; Sasha supervises both teams and Quinn
# reviews both, so signing in as alex and as sasha shows what teams change.
DEMO_TEAMS: list[tuple[str, list[tuple[str, str]], list[str], list[str]]] = [
    (
        "Care team",
        [(Network.X, "1000"), (Network.INSTAGRAM, "17841400000000001")],
        ["alex", "blair", "quinn"],
        ["sasha"],
    ),
    ("Facebook team", [(Network.FACEBOOK, "2000")], ["casey", "quinn"], ["sasha"]),
]
# username: the languages they answer in, their skills (label names); auto-assignment routes
# by both.
DEMO_PROFILES: dict[str, tuple[list[str], list[str]]] = {
    "alex": (["en"], ["outage"]),
    "blair": (["en", "es"], ["billing"]),
    "casey": (["en", "fr"], ["delivery"]),
}
# Open comments on the Facebook page, so the Facebook team's inbox has work in it:
# (conversation, customer handle, name, text, language, minutes ago).
DEMO_FACEBOOK_COMMENTS: list[tuple[str, str, str, str, str, int]] = [
    (
        "demo-fb-1",
        "lea.martin",
        "Léa Martin",
        "Ma commande est arrivée cassée et personne ne répond au téléphone. Que faire ?",
        "fr",
        18,
    ),
    (
        "demo-fb-2",
        "tom.becker",
        "Tom Becker",
        "Third week waiting for the delivery of order 88120. Is it ever coming?",
        "en",
        42,
    ),
]

DEMO_LABELS: list[tuple[str, str]] = [
    ("billing", "blue"),
    ("outage", "red"),
    ("delivery", "amber"),
    ("vip", "purple"),
    ("press", "green"),
    ("apology", "gray"),
    ("offline", "blue"),
    ("thanks", "green"),
]

# title, labels, private, default text, {network: that network's wording}. An empty default text
# offers the reply only on the networks it has wording for. X's wording is short and opens with
# the handle; Facebook's greets by name. Placeholders: {customer_name} {handle} {agent_name}.
DEMO_CANNED_REPLIES: list[tuple[str, list[str], bool, str, dict[str, str]]] = [
    (
        "Apology: sorry, let's fix it",
        ["apology", "offline"],
        False,
        "Hi {customer_name}, we're sorry about this. Please send us a private message with your "
        "order number so we can look into it for you. {agent_name}",
        {
            "x": "{handle} Sorry to hear that. We'd like to sort this out for you: please send us "
            "a DM with your order number and we'll take it from there. {agent_name}",
        },
    ),
    (
        "Take it offline: invitation",
        ["offline"],
        False,
        "Hi {customer_name}, we'd like to help with this personally. Please send us a private "
        "message and we'll pick it up right away. {agent_name}",
        {
            "x": "{handle} We'd like to help with this one-to-one. Our DMs are open: send us a "
            "message and we'll pick it up right away. {agent_name}",
            "facebook": "Hi {customer_name}, we'd like to help with this personally. We've sent "
            "you a private message: reply there and we'll pick it up right away. {agent_name}",
        },
    ),
    (
        "Refund: how it works",
        ["billing"],
        False,
        "Hi {customer_name}, refunds go back to the card or account you paid with, within 5 "
        "working days of us receiving the return. If yours is taking longer, send us a private "
        "message and we'll check it for you. {agent_name}",
        {
            "x": "{handle} Refunds go back to your original payment method within 5 working days "
            "of us receiving the return. Still waiting? DM us and we'll check. {agent_name}",
        },
    ),
    (
        "Refund started",
        ["billing"],
        True,
        "Hi {customer_name}, I've started your refund: it usually shows on your statement within "
        "5 working days. Sorry again for the trouble. {agent_name}",
        {},
    ),
    (
        "Order status: we'll check",
        ["delivery"],
        False,
        "Hi {customer_name}, thanks for your patience and sorry for the wait. Deliveries in some "
        "areas are running a day or two late; send us a message and we'll check yours. "
        "{agent_name}",
        {
            "x": "{handle} Sorry for the wait! Deliveries in some areas are running a day or two "
            "late. DM us and we'll check where yours is. {agent_name}",
        },
    ),
    (
        "Order status: ask for details",
        ["delivery", "billing"],
        True,
        "Hi {customer_name}, {agent_name} here from Acme support. Thanks for getting in touch. "
        "Could you send me your order number and the e-mail address on the order? I'll look into "
        "it straight away.",
        {},
    ),
    (
        "Outage: we're on it",
        ["outage"],
        False,
        "Hi {customer_name}, thanks for letting us know, and sorry for the trouble. Some "
        "customers can't sign in right now; our engineers are on it and we'll post an update on "
        "our page as soon as it's fixed. {agent_name}",
        {
            "x": "{handle} Thanks for flagging this, and sorry for the trouble. Our team is "
            "working on the outage right now; we'll post updates here. {agent_name}",
        },
    ),
    (
        "Outage: fixed",
        ["outage"],
        False,
        "Hi {customer_name}, good news: the problem is fixed and everything should work again. "
        "Thanks for bearing with us. If anything still looks wrong, send us a message. "
        "{agent_name}",
        {
            "x": "{handle} Good news: it's fixed and everything should work again. Thanks for "
            "bearing with us! Still stuck? DM us. {agent_name}",
        },
    ),
    (
        "Press: holding line",
        ["press"],
        False,
        "Hi {customer_name}, thanks for reaching out. Our press office answers media questions: "
        "please write to press@acme.example and they'll get back to you today. {agent_name}",
        {
            "x": "{handle} Thanks for reaching out. Media questions go to our press office: "
            "press@acme.example. They'll reply today. {agent_name}",
        },
    ),
    (
        "Escalation: passed to a specialist",
        ["apology"],
        False,
        "Hi {customer_name}, thank you for your patience. I've passed this to our specialist "
        "team, who will contact you by private message within one working day. {agent_name}",
        {
            "x": "{handle} Thanks for your patience. I've passed this to our specialist team; "
            "they'll DM you within one working day. {agent_name}",
        },
    ),
    (
        "Thanks for the kind words",
        ["thanks"],
        False,
        "Thank you so much, {customer_name}! We've shared your kind words with the team: it made "
        "their day. {agent_name}",
        {
            "x": "{handle} Thank you, that made our day! We'll pass it on to the team. "
            "{agent_name}",
        },
    ),
    (
        "Thanks for the feedback",
        ["thanks"],
        False,
        "Hi {customer_name}, thanks for taking the time to tell us. We've passed your "
        "suggestion to the team that looks after it. {agent_name}",
        {
            "x": "{handle} Thanks for the feedback! We've passed it to the team. {agent_name}",
        },
    ),
    (
        "Thanks for your patience (private)",
        ["thanks"],
        True,
        "Thanks for your patience, {customer_name}, and for sorting this out with us here. If "
        "anything else comes up, just message us. {agent_name}",
        {
            "x": "Thanks for your patience, {customer_name}! Glad we got this sorted. Our DMs are "
            "open if anything else comes up. {agent_name}",
        },
    ),
    (
        "Private: follow-up on a comment",
        ["offline"],
        True,
        "",
        {
            "facebook": "Hi {customer_name}, this is {agent_name} from Acme. Thanks for your "
            "comment: we'd like to help. Could you tell us your order number and what happened?",
        },
    ),
]

DEFAULT_GUIDELINES = """\
# Why we are here
Social networks are a public channel. Hundreds of customers can read every reply we write, so we
treat each one as if the whole customer base were listening in: accurate, complete, polite and
quick. The same principles apply here as on the phone, in chat and by e-mail.

# When to engage
We listen to everything said to and about the brand, then decide whom to engage with. Record the
triage decision and its reason on the case: QA checks that we engaged with the right people.
- Customers with a question or a problem: engage, in the thread they used.
- Anti-customers (angry, loud, sometimes unfair): engage once, calmly, with empathy and a concrete
  next step, and take the conversation offline. Never argue in public.
- Trolls (provocation with no problem to solve): ignore. Do not feed them. Hide, don't delete,
  abusive comments unless they break the page's rules.
- Spam and bots: ignore; report them to the network if they repeat.
- Press, journalists and high-reach accounts: escalate to a supervisor before replying.
- Legal threats (lawyer, lawsuit, regulator): escalate at once; do not admit fault or discuss
  the case in public.
- Praise: a short, personal thank-you. It costs little and is read by many.

# Tone
- Address the customer by name; sign with your name or initials if the team does so.
- Apologise for the experience when a customer is upset ("Sorry to hear...", "I understand how
  frustrating this is"). Empathy first, then the facts.
- No jargon, no blame ("you should have"), no sarcasm, no "calm down", no "as I said".
- Spell-check and punctuate: a reply is a public record. Full sentences, one exclamation mark at
  most, never ALL CAPS.
- Give complete and correct information, or say when you will have it.

# Take it offline
Personal data never goes in a public reply: no e-mail addresses, phone numbers, order, card or
account numbers. Invite the customer to continue privately (a DM on X, a private reply or
Messenger on Facebook, a private reply or DM on Instagram, or phone / e-mail) whenever the case
needs their details or the customer is upset. Mind each network's windows: Messenger and
Instagram DMs allow replies within 24 hours of the customer's last message, and Facebook and
Instagram allow one private reply to a comment within 7 days.

# Follow each network's norms and terms
Replies must fit the network's length as it counts it (X counts a link as 23 characters and most
emoji as 2). Reply in the thread, don't start new posts. When a customer deletes a post, we
delete our copy too. The terms for each network are listed beside the composer and on this page.

# Escalation paths
- Supervisor on duty: press, high-reach accounts, threats of legal action, safety issues, anything
  you are unsure about. Mark the case "escalate" with the reason.
- Incident team: several customers reporting the same outage within minutes.
- Legal: any legal threat, after the supervisor.
- Replies on escalated or high-risk cases may need a supervisor's approval before they go out:
  the composer tells you when.

# Quality assurance
QA reviews a sample of public replies against the rubric: right person engaged, spelling and
punctuation, complete and correct information, tact and empathy, invited offline when needed,
network norms, and response time. If we are not ready to monitor a channel, we are not ready to
handle it.
"""


class Command(BaseCommand):
    help = "Create the demo users and channels (idempotent). Needs DEBUG, or --force."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even without DEBUG. The demo passwords are public: never on a real desk.",
        )

    def handle(self, *args, force: bool = False, **options) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "load_demo creates users with publicly known passwords, so it only runs with "
                "DEBUG=true. Use --force if you really mean it."
            )
        with transaction.atomic():
            roles.sync_roles()
            created_users = self._users()
            created_channels = self._channels()
            self._desk_content()
            self._team_content()
            self._qa_content()
        self._report(created_users, created_channels)

    def _users(self) -> int:
        User = get_user_model()
        created = 0
        for username, role, password, full_name in DEMO_USERS:
            user, is_new = User.objects.get_or_create(username=username)
            created += is_new
            first, _, last = full_name.partition(" ")
            user.first_name, user.last_name = first, last
            user.is_staff = role == roles.ADMIN
            user.is_superuser = role == roles.ADMIN
            user.is_active = True
            # The table printed below must stay true; resetting an unchanged password would
            # change its hash and sign everyone out on every restart.
            if not user.check_password(password):
                user.set_password(password)
            user.save()
            user.groups.set([Group.objects.get(name=role)])
        return created

    def _channels(self) -> int:
        created = 0
        for spec in DEMO_CHANNELS:
            channel = Channel.objects.filter(
                network=spec["network"], external_account_id=spec["external_account_id"]
            ).first()
            if channel is None:
                channel = Channel(
                    network=spec["network"],
                    external_account_id=spec["external_account_id"],
                    name=spec["name"],
                    handle=spec["handle"],
                    poll_interval=DEMO_POLL_INTERVAL,
                )
                channel.credentials = spec["credentials"]
                channel.save()
                created += 1
            for name, query in spec["rules"]:
                ListeningRule.objects.get_or_create(
                    channel=channel, name=name, defaults={"query": query}
                )
        return created

    def _desk_content(self) -> None:
        """Labels, canned replies and the guidelines: added when missing, never overwritten."""
        for name, color in DEMO_LABELS:
            Label.objects.get_or_create(name=name, defaults={"color": color})
        labels = {label.name: label for label in Label.objects.all()}
        for title, names, is_private, text, variants in DEMO_CANNED_REPLIES:
            reply, created = CannedReply.objects.get_or_create(
                title=title, defaults={"is_private": is_private, "text": text}
            )
            if created:
                reply.labels.set([labels[name] for name in names])
                CannedReplyVariant.objects.bulk_create(
                    CannedReplyVariant(canned=reply, network=network, text=wording)
                    for network, wording in variants.items()
                )
        if not EngagementGuidelines.objects.exists():
            EngagementGuidelines.objects.create(body=DEFAULT_GUIDELINES)

    def _team_content(self) -> None:
        """The two teams with their channels, people, languages and skills; the Facebook
        team's open comments (once). Added when missing; a channel an admin gave to another
        team stays where it is."""
        from cases.models import AgentProfile
        from socialdesk.models import Team

        User = get_user_model()
        users = {
            u.username: u for u in User.objects.filter(username__in=[d[0] for d in DEMO_USERS])
        }
        labels = {label.name: label for label in Label.objects.all()}
        for name, channels, members, supervisors in DEMO_TEAMS:
            team, _ = Team.objects.get_or_create(name=name)
            team.members.add(*[users[username] for username in members])
            team.supervisors.add(*[users[username] for username in supervisors])
            for network, account in channels:
                Channel.objects.filter(
                    network=network, external_account_id=account, team__isnull=True
                ).update(team=team)
        for username, (languages, skills) in DEMO_PROFILES.items():
            profile, created = AgentProfile.objects.get_or_create(
                user=users[username], defaults={"languages": languages}
            )
            if created:
                profile.skills.set([labels[label] for label in skills])
        facebook = Channel.objects.filter(network=Network.FACEBOOK).order_by("id").first()
        if facebook is None or Case.objects.filter(conversation_key="demo-fb-1").exists():
            return
        now = timezone.now()
        posts = [
            _demo_post(
                conversation,
                f"{conversation}-comment",
                text,
                now - timedelta(minutes=minutes),
                Author(external_id=f"{conversation}-author", handle=handle, name=name),
                network=Network.FACEBOOK,
                kind="comment",
                lang=lang,
            )
            for conversation, handle, name, text, lang, minutes in DEMO_FACEBOOK_COMMENTS
        ]
        _ingest_demo(facebook, posts, now)

    def _qa_content(self) -> None:
        """Rubric, sampling policy, and demo reviews of the Care team (once)."""
        from qa.models import Review, SamplingPolicy
        from qa.reviews import do_create_review, do_submit_review
        from qa.rubrics import default_rubric

        rubric = default_rubric()
        SamplingPolicy.objects.get_or_create(name="Weekly sample")
        User = get_user_model()
        users = {
            u.username: u for u in User.objects.filter(username__in=[d[0] for d in DEMO_USERS])
        }
        if Case.objects.filter(conversation_key__startswith="demo-qa-").exists():
            return
        channel = Channel.objects.filter(network=Network.X).order_by("id").first()
        if channel is None:
            return
        now = timezone.now()
        criteria = {c.code: c for c in rubric.criteria.all()}
        posts = [
            _demo_post(
                f"demo-qa-{n}",
                f"demo-qa-post-{n}",
                post,
                now - timedelta(days=n, hours=2),
                Author(
                    external_id=f"demo-qa-{n}",
                    handle=f"demo_customer{n}",
                    name=f"Demo customer {n}",
                    followers=40 * n * n,
                ),
            )
            for n, (_, post, *_) in enumerate(DEMO_REVIEWS, start=1)
        ]
        cases = _ingest_demo(channel, posts, now)
        reviews = []
        for n, (agent, _, text, sentiment, waited, scores) in enumerate(DEMO_REVIEWS, start=1):
            posted = posts[n - 1].posted_at
            case = _set_case(
                cases[f"demo-qa-{n}"],
                status=CaseStatus.RESOLVED,
                priority=70 if sentiment < -0.3 else 35,
                priority_reasons=[],
                triage_suggestion="engage",
                triage_reason="",
                triage_decision="engage",
                triage_decided_by=users[agent],
                triage_decided_at=posted,
                assignee=users[agent],
                sentiment=sentiment,
                first_response_at=posted + timedelta(minutes=waited),
                resolved_at=posted + timedelta(minutes=waited + 5),
            )
            sent = posted + timedelta(minutes=waited)
            checks = run_checks(text, network=channel.network, is_private=False, case=case)
            reply = Reply.objects.create(
                case=case,
                author=users[agent],
                text=text,
                state=Reply.State.SENT,
                external_id=f"demo-qa-reply-{n}",
                checks=[c.as_dict() for c in checks],
                created_at=sent,
                queued_at=sent,
                sent_at=sent,
            )
            review = do_create_review(reply=reply, reviewer=users["quinn"], kind="sample")
            Review.objects.filter(pk=review.pk).update(created_at=sent + timedelta(hours=1))
            if scores is not None:
                values = {criteria[code].pk: value for code, value in scores.items()}
                review = do_submit_review(review, values, "")
                Review.objects.filter(pk=review.pk).update(submitted_at=sent + timedelta(hours=3))
            reviews.append(review)
        self._coaching_content(users, reviews)
        self._approval_content(users, channel, now)
        self._source_changes_content(channel, now)
        load_demo_surveys(users, channel, now)

    def _coaching_content(self, users: dict, reviews: list) -> None:
        """Blair disputes the review of her crash reply and has a session planned on spelling."""
        from qa.coaching import do_create_coaching, do_dispute_review

        spelling, crashes = reviews[1], reviews[3]
        do_dispute_review(
            crashes,
            users["blair"],
            "I apologised and asked for the phone model in the same reply: tact and empathy "
            "should be full marks.",
        )
        today = timezone.localdate()
        do_create_coaching(
            coach=users["sasha"],
            agent=users["blair"],
            reviews=[spelling],
            scheduled_for=timezone.now() + timedelta(days=1),
            notes="Two spelling mistakes in a public reply to an angry customer; it read as "
            "careless. The apology came late and the reply took over an hour and a half.",
            action_items="Read every public reply once more before sending\n"
            "Use the canned refund answer as a starting point\n"
            "Answer refund complaints within the hour",
            follow_up_on=today + timedelta(days=8),
        )

    def _approval_content(self, users: dict, channel: Channel, now) -> None:
        """A journalist's question, escalated; alex's answer waits for a supervisor."""
        from cases.sending import do_queue_reply

        desk = DeskSettings.load()
        desk.approval_for_escalated = True
        desk.save(update_fields=["approval_for_escalated"])
        posted = now - timedelta(minutes=25)
        text = (
            "Reporter at the Daily Ledger here, @acme_support: can you comment on this "
            "morning's outage? Readers say orders were charged twice."
        )
        journalist = Author(
            external_id="demo-qa-press",
            handle="dana_ledger",
            name="Dana Reyes",
            followers=48_200,
            verified=True,
        )
        post = _demo_post("demo-qa-press", "demo-qa-press-post", text, posted, journalist)
        case = _set_case(
            _ingest_demo(channel, [post], now)["demo-qa-press"],
            status=CaseStatus.OPEN,
            priority=78,
            priority_reasons=["press enquiry", "reach: 48.2k followers", "verified account"],
            triage_suggestion=Triage.ESCALATE,
            triage_reason="Press enquiry: hand to communications before anyone answers.",
            triage_decision=Triage.ESCALATE,
            triage_decision_reason="Journalist asking about the outage.",
            triage_decided_by=users["alex"],
            triage_decided_at=posted + timedelta(minutes=5),
            assignee=users["alex"],
            sentiment=-0.3,
            mention_priority=78,
        )
        answer = (
            "Hi Dana, thanks for reaching out. Our press team will get back to you within the "
            "hour: could you send us a DM with your email address?"
        )
        do_queue_reply(
            case,
            author=users["alex"],
            text=answer,
            is_private=False,
            checks=run_checks(answer, network=channel.network, is_private=False, case=case),
        )

    def _source_changes_content(self, channel: Channel, now) -> None:
        """A customer who edited one post and deleted the next: how the timeline shows both."""
        from listening.content import do_record_source_edit, do_record_source_removal
        from listening.models import Removal

        customer = Author(
            external_id="demo-qa-edits", handle="sam_parcel", name="Sam Ortiz", followers=310
        )
        first = _demo_post(
            "demo-qa-edits",
            "demo-qa-edits-1",
            "@acme_support my parcel never came and nobody answers the phone. Order 55210.",
            now - timedelta(minutes=50),
            customer,
        )
        second = _demo_post(
            "demo-qa-edits",
            "demo-qa-edits-2",
            "@acme_support honestly your courier is a joke, worst company ever",
            now - timedelta(minutes=40),
            customer,
        )
        _ingest_demo(channel, [first, second], now)
        do_record_source_edit(
            channel=channel,
            external_id=first.external_id,
            text="@acme_support my parcel came a week late: can I get the delivery fee back? "
            "Order 55210.",
            edited_at=now - timedelta(minutes=30),
        )
        do_record_source_removal(
            channel=channel,
            external_id=second.external_id,
            removed_at=now - timedelta(minutes=20),
            how=Removal.LOOKUP,
        )

    def _report(self, created_users: int, created_channels: int) -> None:
        port = os.environ.get("WEB_PORT") or os.environ.get("PORT", "8000")
        self.stdout.write(
            f"Demo data ready: {created_users} user(s) and {created_channels} channel(s) created."
        )
        self.stdout.write("")
        self.stdout.write(f"  {'username':<10} {'role':<12} password")
        self.stdout.write(f"  {'-' * 10} {'-' * 12} {'-' * 16}")
        for username, role, password, _ in DEMO_USERS:
            self.stdout.write(f"  {username:<10} {role:<12} {password}")
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Open http://127.0.0.1:{port}/ and sign in."))


def _demo_post(
    conversation: str,
    external_id: str,
    text: str,
    posted: datetime,
    author: Author,
    *,
    network: str = Network.X,
    kind: str = "mention",
    lang: str = "en",
) -> InboundPost:
    return InboundPost(
        network=network,
        external_id=external_id,
        kind=kind,
        text=text,
        posted_at=posted,
        author=author,
        conversation_id=conversation,
        lang=lang,
        is_private=kind == "dm",
    )


def _ingest_demo(channel: Channel, posts: list[InboundPost], now: datetime) -> dict[str, Case]:
    """The demo's posts stored the way every post is (customers, identities, cases, mentions),
    then their cases by conversation."""
    ingest(channel, posts, source=QuarantinedPost.Source.IMPORT, now=now)
    keys = [post.conversation_id for post in posts]
    stored = Case.objects.filter(channel=channel, conversation_key__in=keys)
    return {case.conversation_key: case for case in stored}


def _set_case(case: Case, *, mention_priority: int = 0, **history) -> Case:
    """The demo case as the desk's people left it: triaged, assigned, answered, resolved. The
    radar's figures are the demo's own (its post's too), so the dashboards show the same
    numbers on every run."""
    if "first_response_at" in history:
        history.setdefault("awaiting_since", None)  # answered: nobody waits on the desk
    for name, value in history.items():
        setattr(case, name, value)
    Case.objects.filter(pk=case.pk).update(**history)
    refresh_case_sla(case)  # its service-level clocks follow the history
    Mention.objects.filter(case=case).update(
        sentiment=case.sentiment, priority=mention_priority, priority_reasons=[]
    )
    return case


# (agent, customer post, our reply, case sentiment, minutes to reply, scores or None = pending)
_GOOD = {
    "right_person": 1,
    "spelling": 3,
    "punctuation": 3,
    "accuracy": 5,
    "tact_empathy": 5,
    "offline": 1,
    "network_norms": 3,
    "response_time": 3,
}
DEMO_REVIEWS: list[tuple[str, str, str, float, int, dict[str, int | None] | None]] = [
    (
        "alex",
        "@acme_support my order arrived broken and nobody answers my emails",
        "So sorry your order arrived broken! Please send us a DM with your order number and "
        "we will sort out a replacement today.",
        -0.7,
        18,
        _GOOD,
    ),
    (
        "blair",
        "@acme_support charged twice for the same order, I want my money back",
        "We will recieve your refund request. Send us your adress in a DM",
        -0.6,
        95,
        {
            **_GOOD,
            "spelling": 1,
            "punctuation": 2,
            "accuracy": 3,
            "tact_empathy": 2,
            "response_time": 2,
        },
    ),
    (
        "alex",
        "@acme_support do you ship to Canada?",
        "Thanks for asking! Yes, we ship to Canada: delivery takes 5 to 7 working days.",
        0.3,
        12,
        {**_GOOD, "offline": None, "accuracy": 4},
    ),
    (
        "blair",
        "@acme_support the app keeps crashing, this is useless",
        "Sorry about the crashes! Could you DM us your phone model so we can look into it?",
        -0.5,
        40,
        {**_GOOD, "tact_empathy": 4},
    ),
    (
        "alex",
        "@acme_support still waiting for my refund after three weeks!!",
        "Sorry for the wait. Please DM us your order number and we will chase it.",
        -0.6,
        150,
        None,
    ),
    (
        "blair",
        "@acme_support where is my parcel? tracking has not moved in days",
        "ok, tracking is updated daily",
        -0.2,
        30,
        None,
    ),
]
