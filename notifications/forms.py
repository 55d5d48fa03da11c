from django import forms

from notifications.models import Kind


class PreferencesForm(forms.Form):
    email_kinds = forms.MultipleChoiceField(
        label="Also e-mail me when",
        choices=Kind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    daily_digest = forms.BooleanField(
        label="Send them as one daily digest of what is still unread, not one e-mail each",
        required=False,
    )
