from django.urls import path

from . import views

app_name = "feeds"
urlpatterns = [
    path("", views.index, name="index"),
    path("<int:pk>/report.xlsx", views.report, name="report"),
]
