from django.urls import path

from . import views

app_name = "pairing"
urlpatterns = [
    path("", views.index, name="index"),
    path("overdue/", views.overdue, name="overdue"),
    path("rule/", views.rule, name="rule"),
    path("outcomes/", views.outcomes, name="outcomes"),
    path("outcomes/home/", views.home_outcomes, name="home_outcomes"),
    path("cadres/", views.cadres, name="cadres"),
    path("cadres/import/", views.cadre_import_view, name="cadre_import"),
    path("cadres/import/report.xlsx", views.cadre_import_report, name="cadre_import_report"),
    path("problems/<int:pk>/solve/", views.problem_solve, name="problem_solve"),
    path("h/<str:household_no>/", views.household, name="household"),
    path("h/<str:household_no>/visit/", views.visit_new, name="visit_new"),
    path("h/<str:household_no>/assign/", views.assign, name="assign"),
    path("h/<str:household_no>/risk/", views.risk, name="risk"),
]
