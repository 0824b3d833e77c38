"""Every model in the Django admin opens for a staff member, through the scoped bases."""

import pytest
from django.contrib import admin
from django.test import Client


@pytest.mark.django_db
def test_every_admin_changelist_opens_for_a_county_staff_member(county, make_user):
    user = make_user("county_officer", county, username="admin-smoke")
    user.is_staff = True
    user.is_superuser = True
    user.save()
    client = Client()
    client.force_login(user)
    for model in admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert client.get(url).status_code == 200, url
