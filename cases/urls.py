from cases.views import case, composer, inbox

app_name = "cases"
# Each screen's module lists its own routes; names are the contract templates use.
urlpatterns = [*inbox.urlpatterns, *case.urlpatterns, *composer.urlpatterns]
