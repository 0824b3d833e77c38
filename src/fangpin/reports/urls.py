from django.urls import path

from . import views

app_name = "reports"
urlpatterns = [
    path("hit-rates/", views.hit_rates, name="hit_rates"),
    path("hit-rates.xlsx", views.hit_rates_export, name="hit_rates_export"),
]
