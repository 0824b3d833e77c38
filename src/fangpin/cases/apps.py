from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "fangpin.cases"
    label = "cases"
    verbose_name = "Relief cases 救助案件"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # funds fires, cases subscribes: a bank return that pays moves its cases to "paid"
        from fangpin.common.workdays import extra_days_off_register
        from fangpin.funds.hooks import payment_succeeded_subscribe

        from . import handlers, workdays

        payment_succeeded_subscribe(handlers.payments_succeeded)
        # the public holidays configured in the admin are days off for every deadline
        extra_days_off_register(workdays.configured_days_off)
