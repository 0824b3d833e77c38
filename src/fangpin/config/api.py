"""The REST API under /api/v1/ (OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs)."""

from django.core.exceptions import PermissionDenied
from ninja import NinjaAPI

from fangpin.accounts.api import api_auth
from fangpin.common.errors import DomainError

api = NinjaAPI(
    title="Fangpin API 防贫接口",
    version="1",
    urls_namespace="api",
    auth=api_auth,
    description="Region-scoped: every endpoint answers only for the caller's region. "
    "Authenticate with `Authorization: Bearer <token>` (`fangpin apitoken USERNAME`) or a logged-in session.",
)


@api.exception_handler(PermissionDenied)
def permission_denied(request, exc):
    return api.create_response(request, {"detail": str(exc)}, status=403)


@api.exception_handler(DomainError)
def domain_error(request, exc):
    """A refusal of any app (``common.errors.DomainError``): 422 with its message and field."""
    return api.create_response(request, {"detail": exc.message, "field": exc.field}, status=422)


api.add_router("/registry", "fangpin.registry.api.router")
api.add_router("/funds", "fangpin.funds.api.router")
api.add_router("/pairing", "fangpin.pairing.api.router")
api.add_router("/screening", "fangpin.screening.api.router")
api.add_router("/relief", "fangpin.policy.api.router")
api.add_router("/cases", "fangpin.cases.api.router")
api.add_router("/jobs", "fangpin.jobs.api.router")
api.add_router("/feeds", "fangpin.feeds.api.router")
api.add_router("/reports", "fangpin.reports.api.router")
