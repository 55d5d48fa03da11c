from django.db import models


class AlertState(models.Model):
    """One condition admins are told about (alerts.evaluate): raised once, resolved once.

    `key` names the condition ("beat", "channel-reauth:12", ...). Rows are written only by
    alerts.evaluate, with conditional statements, so two evaluators never both notify.
    """

    key = models.CharField(max_length=255, unique=True)
    title = models.CharField(max_length=500, help_text="What is wrong, one line of plain text.")
    detail = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    started_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.title} ({'active' if self.active else 'resolved'})"
