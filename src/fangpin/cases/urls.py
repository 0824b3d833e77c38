from django.urls import path

from . import views

app_name = "cases"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("all/", views.case_list, name="list"),
    path("new/", views.case_new, name="new"),
    path("from-warning/<int:warning_pk>/", views.case_from_warning, name="from_warning"),
    path("<int:pk>/", views.case_detail, name="detail"),
    path("<int:pk>/act/<str:transition>/", views.case_act, name="act"),
    path("<int:pk>/evidence/", views.evidence_upload, name="evidence"),
    path("<int:pk>/evidence/<int:evidence_pk>/", views.evidence_file, name="evidence_file"),
    path("<int:pk>/objections/", views.objection_new, name="objection"),
    path(
        "<int:pk>/objections/<int:objection_pk>/resolve/",
        views.objection_resolve,
        name="objection_resolve",
    ),
    path("<int:pk>/decision-form/", views.decision_form, name="decision_form"),
    path("<int:pk>/notice/", views.notice, name="notice"),
]
