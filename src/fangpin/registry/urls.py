from django.urls import path

from . import views

app_name = "registry"
urlpatterns = [
    path("", views.household_list, name="household_list"),
    path("import/", views.import_page, name="import"),
    path("import/report.xlsx", views.import_report, name="import_report"),
    path("<str:household_no>/", views.household_detail, name="household_detail"),
]
