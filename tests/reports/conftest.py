"""The case fixtures (a household with a bank account, a user of each role for it, this
year's insurance contract, the walk through the workflow) for the hit rates' known year."""

from tests.cases.conftest import contract, household, lake, roles, walk  # noqa: F401
