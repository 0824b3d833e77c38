from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from fangpin.web import views as web_views

from .api import api

urlpatterns = [
    path("", web_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # the templates are not under registration/, where the admin's own would shadow them
    path(
        "password/",
        auth_views.PasswordChangeView.as_view(template_name="accounts/password_change_form.html"),
        name="password_change",
    ),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="accounts/password_change_done.html"
        ),
        name="password_change_done",
    ),
    path("account/", include("fangpin.accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("households/", include("fangpin.registry.urls")),
    path("policy/", include("fangpin.policy.urls")),
    path("funds/", include("fangpin.funds.urls")),
    path("pairing/", include("fangpin.pairing.urls")),
    path("cases/", include("fangpin.cases.urls")),
    path("feeds/", include("fangpin.feeds.urls")),
    path("warnings/", include("fangpin.screening.urls")),
    path("jobs/", include("fangpin.jobs.urls")),
    path("reports/", include("fangpin.reports.urls")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]
