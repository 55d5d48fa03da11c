"""The desk's people: teams.

A team is the unit of visibility. It owns channels (listening.Channel.team); its members
(agents, and the QA specialists who review them) see and are assigned the cases of those
channels; its supervisors see, coach and review everything in it. The QA dashboard, sampling
and coaching group agents by the same teams: there is one notion of team.
"""

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


class TeamQuerySet(models.QuerySet):
    def of(self, user: "AbstractBaseUser") -> "TeamQuerySet":
        """The teams `user` works in: as a member or as a supervisor."""
        return self.filter(Q(members=user) | Q(supervisors=user)).distinct()


class Team(models.Model):
    """Agents and the supervisors who coach them. Supervisors see everything in their teams."""

    name = models.CharField(max_length=100, unique=True)
    supervisors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="supervised_teams", blank=True
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        # The table (and its two membership tables) kept the name they had when teams were
        # part of QA, so moving the model here rewrote no data.
        db_table = "qa_team"

    def __str__(self) -> str:
        return self.name

    def works_in(self, user: "AbstractBaseUser") -> bool:
        """Whether `user` is a member or a supervisor of this team."""
        return Team.objects.of(user).filter(pk=self.pk).exists()
