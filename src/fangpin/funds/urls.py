from django.urls import path

from . import views

app_name = "funds"
urlpatterns = [
    path("", views.index, name="index"),
    path("import/", views.import_contributions, name="import"),
    path("import/report.xlsx", views.import_report, name="import_report"),
    path("bank-return/", views.import_bank_return, name="bank_return"),
    path(
        "contributions/<int:pk>/reverse/", views.contribution_reverse, name="contribution_reverse"
    ),
    path("batches/<int:pk>/<str:fmt>/", views.batch_download, name="batch_download"),
    path("payments/<int:pk>/retry/", views.payment_retry, name="payment_retry"),
    path("<str:code>/<int:year>/", views.county_page, name="county"),
    path(
        "<str:code>/<int:year>/contributions/",
        views.contribution_create,
        name="contribution_create",
    ),
    path("<str:code>/<int:year>/contract/", views.contract_create, name="contract_create"),
    path("<str:code>/<int:year>/premium/", views.premium_pay, name="premium_pay"),
    path("<str:code>/<int:year>/batches/", views.batch_export, name="batch_export"),
    path("<str:code>/<int:year>/settle/", views.settle, name="settle"),
    path("<str:code>/<int:year>/reopen/", views.reopen, name="reopen"),
    path("<str:code>/<int:year>/ledger/", views.ledger, name="ledger"),
    path("<str:code>/<int:year>/settlement/", views.settlement_report, name="settlement_report"),
    path(
        "<str:code>/<int:year>/settlement.xlsx",
        views.settlement_report_xlsx,
        name="settlement_report_xlsx",
    ),
]
