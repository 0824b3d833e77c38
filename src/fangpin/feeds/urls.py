from django.urls import path

from . import views

app_name = "feeds"
urlpatterns = [
    path("", views.index, name="index"),
    path("send/", views.upload, name="upload"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/report.xlsx", views.report, name="report"),
]
