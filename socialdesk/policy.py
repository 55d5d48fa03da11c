"""Who may use which URL: the desk's access policy, route by route, in one table.

Views enforce it with permissions (socialdesk/roles.py maps roles to permissions;
socialdesk/access.py and the `access_*` helpers check them). This table is the declaration
those checks are held to: tests/test_authz_matrix.py walks every URL pattern of the resolver,
requests each with GET and POST as every persona, and compares the answer with the rule here.
A new route without a rule fails that test.

What the others get: an anonymous visitor is sent to sign in (302; an htmx request gets
HX-Redirect); a signed-in user without the role gets 403, or 404 where the object is outside
what they may see (another agent's review, another team's coaching, a review assigned to
someone else); a method nobody may use is 405. Object-level rules ("their own", "their
team's") are the view's: the role listed may use the route on objects that are theirs.
"""

from dataclasses import dataclass

from socialdesk.roles import ADMIN, AGENT, QA, SUPERVISOR

ANONYMOUS = "anonymous"  # not signed in
NO_ROLE = "no role"  # signed in, in no group

PERSONAS = (ANONYMOUS, NO_ROLE, AGENT, QA, SUPERVISOR, ADMIN)
SIGNED_IN = frozenset({NO_ROLE, AGENT, QA, SUPERVISOR, ADMIN})
EVERYONE = SIGNED_IN | {ANONYMOUS}
NOBODY: frozenset[str] = frozenset()
CASE_READERS = frozenset({AGENT, QA, SUPERVISOR, ADMIN})  # cases.view_case
CASE_WORKERS = frozenset({AGENT, SUPERVISOR, ADMIN})  # cases.change_case, add_reply, add_note
LEADS = frozenset({SUPERVISOR, ADMIN})
REVIEWERS = frozenset({QA})  # the review assigned to them (an admin's is a 404 if not theirs)
QA_READERS = frozenset({QA, SUPERVISOR, ADMIN})  # sampling and calibration pages
ADMINS = frozenset({ADMIN})


@dataclass(frozen=True)
class Rule:
    """The personas who may GET and POST a route (see PERSONAS).

    `inner`: the view makes finer checks of its own past this gate (the admin site: each
    model's add / change / delete permission), so an allowed persona may still get a 403, 404
    or 405 there; the others never get in.
    """

    get: frozenset[str]
    post: frozenset[str]
    inner: bool = False

    def allows(self, persona: str, method: str) -> bool:
        return persona in (self.get if method == "GET" else self.post)


def rule(get: frozenset[str], post: frozenset[str] | None = None, *, inner: bool = False) -> Rule:
    """A rule; `post` defaults to `get` (the view answers both the same way)."""
    return Rule(frozenset(get), frozenset(get if post is None else post), inner)


POLICY: dict[str, Rule] = {
    # sign-in and the public liveness ping
    "home": rule(SIGNED_IN),  # a redirect to the inbox or the review queue, which check the role
    "login": rule(EVERYONE),
    "logout": rule(NOBODY, EVERYONE),  # sign-out by POST only
    "set_language": rule(SIGNED_IN),  # the desk's language, kept in a cookie (Django's view)
    "admin_login": rule(frozenset({ANONYMOUS})),  # sends to sign in; signed in without admin: 403
    "listening:ping": rule(EVERYONE),
    "listening:monitor": rule(EVERYONE),  # the failing checks' names only; more with its token
    "listening:health": rule(LEADS),
    # Meta's webhook: signed with the app secret, not by a person; refused to every persona
    # (404 without a secret, 403 unsigned)
    "meta_webhook": rule(NOBODY),
    # the inbox
    "cases:list": rule(CASE_READERS),
    "cases:bulk": rule(NOBODY, CASE_WORKERS),
    "cases:save_view": rule(NOBODY, CASE_READERS),
    "cases:delete_view": rule(NOBODY, ADMINS),  # a shared view; anyone may delete their own
    # the case page and its actions
    "cases:detail": rule(CASE_READERS),
    "cases:timeline": rule(CASE_READERS),
    "cases:presence": rule(NOBODY, CASE_READERS),
    "cases:triage": rule(NOBODY, CASE_WORKERS),
    "cases:assign": rule(NOBODY, CASE_WORKERS),
    "cases:set_status": rule(NOBODY, CASE_WORKERS),
    "cases:labels": rule(NOBODY, CASE_WORKERS),
    "cases:add_note": rule(NOBODY, CASE_WORKERS),
    "cases:transfer": rule(CASE_WORKERS),  # the form (GET), the transfer (POST)
    # moderation on the network: hide / show a comment, delete a published reply, retry
    "cases:comment_visibility": rule(NOBODY, CASE_WORKERS),
    "cases:delete_reply": rule(NOBODY, LEADS),
    "cases:retry_moderation": rule(NOBODY, CASE_WORKERS),  # a deletion's retry: leads only
    "cases:media": rule(CASE_READERS, NOBODY),  # a stored image of a customer's post
    "cases:media-thumb": rule(CASE_READERS, NOBODY),
    # the composer, retries and approvals
    "cases:compose": rule(CASE_WORKERS),
    "cases:checks": rule(NOBODY, CASE_WORKERS),
    "cases:canned_picker": rule(CASE_WORKERS, NOBODY),
    "cases:send": rule(NOBODY, CASE_WORKERS),
    "cases:retry": rule(NOBODY, CASE_WORKERS),
    "cases:approve": rule(NOBODY, LEADS),
    "cases:approvals": rule(LEADS, NOBODY),
    "cases:guidelines": rule(CASE_READERS, ADMINS),
    "cases:canned_replies": rule(CASE_READERS, NOBODY),  # admins edit them in the admin
    # QA: reviewing
    "qa:queue": rule(frozenset({QA, ADMIN}), NOBODY),
    "qa:review": rule(REVIEWERS),
    "qa:sampling": rule(QA_READERS, LEADS),
    "qa:planner": rule(QA_READERS, LEADS),
    # QA: calibration (a reviewer sees the sessions they sit); gold is the supervisors'
    "qa:calibration_list": rule(QA_READERS),
    "qa:calibration": rule(QA_READERS, NOBODY),
    "qa:calibration_gold": rule(NOBODY, LEADS),
    "qa:gold_plant": rule(NOBODY, LEADS),
    # QA: an agent's own reviews, disputes and coaching (supervisors: their teams)
    "qa:my_reviews": rule(frozenset({AGENT, ADMIN}), NOBODY),
    "qa:respond": rule(NOBODY, frozenset({AGENT})),  # only the reviewed agent
    "qa:disputes": rule(LEADS, NOBODY),
    "qa:resolve_dispute": rule(NOBODY, LEADS),
    "qa:coaching_list": rule(frozenset({AGENT, SUPERVISOR, ADMIN}), LEADS),
    "qa:coaching": rule(frozenset({AGENT, SUPERVISOR, ADMIN}), LEADS),
    # the quality dashboard: supervisors of their teams, QA specialists of the teams they
    # belong to (read only; disputes and coaching stay the supervisors')
    "qa:dashboard": rule(QA_READERS, NOBODY),
    "qa:dashboard_csv": rule(QA_READERS, NOBODY),
    # notifications: everyone signed in has their own (another user's is a 404)
    "notifications:list": rule(SIGNED_IN, NOBODY),
    "notifications:bell": rule(SIGNED_IN, NOBODY),
    "notifications:read": rule(NOBODY, SIGNED_IN, inner=True),  # their own notification
    "notifications:read_all": rule(NOBODY, SIGNED_IN),
    "notifications:preferences": rule(SIGNED_IN),
}

# Routes that answer 503 by design when the desk is down or degraded (for monitors).
STATUS_ROUTES = frozenset({"listening:ping", "listening:monitor", "listening:health"})

# Routes a network calls, authenticated by a signature rather than a session: a refusal there
# is 403 or 404 for everyone, the anonymous visitor included, never a redirect to sign in.
SIGNED_ROUTES = frozenset({"meta_webhook"})

# Routes whose answer is the sign-in page: a redirect there is them working, not a refusal.
SIGN_IN_ROUTES = frozenset({"logout", "admin_login", "admin:login", "admin:logout"})

# The admin site lets in staff only, then checks each model's permissions itself (read-only
# models refuse add and delete; users and groups need auth permissions, which only
# superusers hold): the `admin` role (staff, every permission of the desk's apps) gets in.
ADMIN_SITE = rule(ADMINS, inner=True)
ADMIN_RULES: dict[str, Rule] = {
    "admin:login": POLICY["admin_login"],  # the same URL: the desk's throttled sign-in
    "admin:logout": rule(NOBODY, ADMINS),
}


def rule_for(name: str, pattern: str) -> Rule | None:
    """The rule of the route `name` (namespaced) with URL `pattern`; None: no rule declared."""
    if name.startswith("admin:") or (not name and pattern.startswith("admin/")):
        return ADMIN_RULES.get(name, ADMIN_SITE)
    return POLICY.get(name)
