from qa.views import calibration, coaching, dashboard, review, sampling

app_name = "qa"
# Each screen's module lists its own routes; names are the contract templates use.
urlpatterns = [
    *review.urlpatterns,
    *sampling.urlpatterns,
    *calibration.urlpatterns,
    *coaching.urlpatterns,
    *dashboard.urlpatterns,
]
