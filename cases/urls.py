from cases.views import (
    approvals,
    canned,
    case,
    composer,
    guidelines,
    inbox,
    media,
    moderation,
    presence,
    transfer,
)

app_name = "cases"
# Each screen's module lists its own routes; names are the contract templates use.
urlpatterns = [
    *inbox.urlpatterns,
    *case.urlpatterns,
    *transfer.urlpatterns,
    *moderation.urlpatterns,
    *presence.urlpatterns,
    *composer.urlpatterns,
    *approvals.urlpatterns,
    *guidelines.urlpatterns,
    *canned.urlpatterns,
    *media.urlpatterns,
]
