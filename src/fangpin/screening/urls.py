from django.urls import path

from . import views

app_name = "screening"
urlpatterns = [
    path("", views.index, name="index"),
    path("export.xlsx", views.export, name="export"),
    path("run/", views.run, name="run"),
    path("bulk/", views.bulk, name="bulk"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/dismiss/", views.dismiss, name="dismiss"),
    path("<int:pk>/assign/", views.assign, name="assign"),
    path("<int:pk>/override-exclusion/", views.override_exclusion, name="override_exclusion"),
]
