"""Django admin for the fund: read-only (the ledger changes only through services), region-scoped."""

from django.contrib import admin

from fangpin.accounts.admin_base import ScopedReadOnlyAdmin

from .models import (
    Account,
    BankBatch,
    Contribution,
    InsuranceContract,
    LedgerTransaction,
    Leg,
    Payment,
    PaymentAttempt,
    Settlement,
)


class ReadOnlyScopedAdmin(ScopedReadOnlyAdmin):
    region_path_field = "county__path"


class LegInline(admin.TabularInline):
    model = Leg
    extra = 0
    can_delete = False
    readonly_fields = ["account", "amount"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyScopedAdmin):
    list_display = ["id", "county", "year", "date", "kind", "memo", "posted"]
    list_filter = ["kind", "year"]
    search_fields = ["memo", "reference"]
    inlines = [LegInline]


@admin.register(Account)
class AccountAdmin(ReadOnlyScopedAdmin):
    list_display = ["county", "year", "kind"]
    list_filter = ["kind", "year"]


@admin.register(Contribution)
class ContributionAdmin(ReadOnlyScopedAdmin):
    list_display = [
        "county",
        "year",
        "source",
        "amount",
        "document_no",
        "received_on",
        "reversed_at",
    ]
    list_filter = ["source", "year"]
    search_fields = ["document_no"]


@admin.register(InsuranceContract)
class InsuranceContractAdmin(ReadOnlyScopedAdmin):
    list_display = ["county", "year", "insurer", "insured_persons", "premium"]


class AttemptInline(admin.TabularInline):
    model = PaymentAttempt
    extra = 0
    can_delete = False
    readonly_fields = [
        "number",
        "reference",
        "bank_account",
        "account_name",
        "status",
        "reason",
        "batch",
        "returned_at",
    ]
    exclude = ["bank_name"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyScopedAdmin):
    region_path_field = "household__village__path"
    list_display = ["decision_key", "household", "county", "year", "amount", "status", "paid_on"]
    list_filter = ["status", "year"]
    search_fields = ["decision_key", "household__household_no", "=attempts__reference"]
    inlines = [AttemptInline]


@admin.register(BankBatch)
class BankBatchAdmin(ReadOnlyScopedAdmin):
    list_display = ["id", "county", "year", "count", "total", "created_at"]


@admin.register(Settlement)
class SettlementAdmin(ReadOnlyScopedAdmin):
    list_display = ["county", "year", "result", "carried_forward", "settled_at", "reopened_at"]
