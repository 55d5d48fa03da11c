"""The desk's starting content: labels, canned replies and the engagement guidelines, added
when missing and never overwritten (an admin's edits are kept)."""

from cases.models import CannedReply, CannedReplyVariant, EngagementGuidelines, Label

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


def load_desk_content() -> None:
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
