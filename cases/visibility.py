"""Who sees which cases: the one rule of team visibility, as a Q for querysets and in parts
for work done in batches."""

from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django.db.models import QuerySet

    from listening.models import Channel


def visible_q(user: "AbstractBaseUser | AnonymousUser", prefix: str = "") -> Q:
    """Which cases `user` may see, as a Q over cases (`prefix` reaches a case from another
    model, e.g. "case__" from replies, "reply__case__" from reviews): the one rule of team
    visibility.

    A case belongs to the team it was transferred to (Case.team), else to its channel's team
    (Channel.team); a case of neither belongs to every team. Team members and supervisors see
    their teams' cases; those who manage the teams (socialdesk.change_team: admins) see all.
    """
    if not getattr(user, "is_authenticated", False):
        return Q(**{f"{prefix}pk__isnull": True})  # nothing (a pk is never null)
    if user.has_perm(SEES_ALL_TEAMS):
        return Q()
    from socialdesk.models import Team

    mine = Team.objects.of(user).values("id")
    p = prefix
    return Q(**{f"{p}team__in": mine}) | Q(
        Q(**{f"{p}channel__team__in": mine}) | Q(**{f"{p}channel__team__isnull": True}),
        **{f"{p}team__isnull": True},
    )


# Who sees every team's cases: those who manage the teams (admins).
SEES_ALL_TEAMS = "socialdesk.change_team"


def visible_channels(user: "AbstractBaseUser | AnonymousUser") -> "QuerySet[Channel]":
    """The channels whose cases `user` sees by default (visible_q without transfers): their
    teams' channels and the shared ones; every channel for those who see all teams."""
    from listening.models import Channel
    from socialdesk.models import Team

    if not getattr(user, "is_authenticated", False):
        return Channel.objects.filter(pk__isnull=True)  # none, as SQL the inbox can embed
    if user.has_perm(SEES_ALL_TEAMS):
        return Channel.objects.all()
    return Channel.objects.filter(
        Q(team__isnull=True) | Q(team__in=Team.objects.of(user).values("id"))
    )


# The same rule for work done in batches (auto-assignment, QA sampling), in three parts: the
# team that owns each case, the teams each person reaches, and whether one reaches the other.


def owning_teams(case_ids: "Iterable[int]") -> dict[int, int | None]:
    """Each case's team (its transfer team, else its channel's; None: every team's); one
    query."""
    from cases.models import Case

    rows = (
        Case.objects.filter(pk__in=list(case_ids))
        .annotate(owner=Coalesce("team_id", "channel__team_id"))
        .values_list("pk", "owner")
    )
    return dict(rows)


def team_reach(user_ids: "Iterable[int]") -> dict[int, frozenset[int] | None]:
    """The teams each user works in (member or supervisor), None for those who see every team
    (SEES_ALL_TEAMS); two queries."""
    from socialdesk import roles
    from socialdesk.models import Team

    ids = list(user_ids)
    everything = set(
        roles.holders_of(SEES_ALL_TEAMS).filter(pk__in=ids).values_list("pk", flat=True)
    )
    reach: dict[int, set[int]] = {pk: set() for pk in ids}
    members = Team.members.through.objects.filter(user_id__in=ids).values_list("user_id", "team_id")
    bosses = Team.supervisors.through.objects.filter(user_id__in=ids).values_list(
        "user_id", "team_id"
    )
    for user_id, team_id in members.union(bosses, all=True):
        reach[user_id].add(team_id)
    return {pk: None if pk in everything else frozenset(teams) for pk, teams in reach.items()}


def reaches(reach: frozenset[int] | None, owner: int | None) -> bool:
    """Whether someone with `reach` (team_reach) sees a case owned by `owner` (owning_teams)."""
    return reach is None or owner is None or owner in reach


def seers_q(owner: int | None) -> Q:
    """The users who see a case owned by `owner` (a team id, None: every team's), as a Q over
    users: the team's members and supervisors and those who see every team."""
    if owner is None:
        return Q()
    from socialdesk import roles
    from socialdesk.models import Team

    return (
        Q(Exists(Team.members.through.objects.filter(user_id=OuterRef("pk"), team_id=owner)))
        | Q(Exists(Team.supervisors.through.objects.filter(user_id=OuterRef("pk"), team_id=owner)))
        | Q(pk__in=roles.holders_of(SEES_ALL_TEAMS).values("pk"))
    )
