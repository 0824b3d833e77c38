"""Screening as a background job (筛查任务), and screening when data arrives.

- ``screening_submit`` queues a run of one county-year (or every county) as a job
  (``screening.run``), which the page's "start screening" and ``fangpin screen --due``
  use.
- When a feed batch is accepted (``feeds.hooks.batch_accepted``), the screening of each
  of its years — of the sender's county, or every county for a city-wide batch — is
  queued to run ``FANGPIN_SCREENING_DEBOUNCE_SECONDS`` later; further batches in the
  meantime join that queued run rather than adding another (a department sending a
  month in ten files causes one screening). Only years the lake has a roster of are
  screened.
- ``screening_due`` lists the county-years whose newest accepted batch is newer than
  their newest screening run: what ``fangpin screen --due`` (cron, a systemd timer) runs.

A screening adds only what it has not recorded before (one warning per household ×
circumstance × year), so a run that finds nothing new changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from fangpin.feeds.lake import lake_years
from fangpin.feeds.models import BatchStatus, FeedBatch
from fangpin.jobs.models import Job, JobState
from fangpin.jobs.services import job_submit
from fangpin.regions.models import Level, Region
from fangpin.regions.selectors import county_code_of

from .models import ScreeningRun

JOB_KIND = "screening.run"


@dataclass(frozen=True)
class Due:
    year: int
    county_code: str  # '' for every county


def _county_path(county_code: str) -> str:
    if not county_code:
        return ""
    region = Region.objects.filter(level=Level.COUNTY, code=county_code).only("path").first()
    return region.path if region is not None else ""


def _label(year: int, county_code: str) -> str:
    if county_code:
        county = Region.objects.filter(code=county_code).only("name").first()
        where = county.name if county is not None else county_code
    else:
        where = _("every county")
    return _("Screening %(year)s, %(where)s") % {"year": year, "where": where}


def screening_submit(
    *, year: int, county_code: str, actor: Any, run_after: dt.datetime | None = None
) -> Job:
    """Queue the screening of ``year`` (one county or all) as a job, unless one for the
    same county-year is already queued: then that one is returned."""
    queued = Job.objects.filter(
        kind=JOB_KIND,
        state=JobState.QUEUED,
        params__year=year,
        params__county_code=county_code,
    ).first()
    if queued is not None:
        return queued
    job, _created = job_submit(
        kind=JOB_KIND,
        label=_label(year, county_code),
        params={"year": year, "county_code": county_code},
        actor=actor,
        region_path=_county_path(county_code),
        run_after=run_after,
    )
    return job


def screening_job(*, progress: Any, actor: Any, year: int, county_code: str) -> dict[str, Any]:
    """The ``screening.run`` job."""
    from .services import screening_run

    run = screening_run(year=year, county_code=county_code, actor=actor, progress=progress)
    summary = _(
        "%(found)s warnings, %(new)s new, %(excluded)s excluded by data comparison; "
        "%(households)s households added to the registry."
    ) % {
        "found": f"{run.warnings_found:,}",
        "new": f"{run.warnings_added:,}",
        "excluded": f"{run.warnings_excluded:,}",
        "households": f"{run.households_added:,}",
    }
    if run.unplaced:
        summary += " " + _(
            "%(n)s warnings were not recorded: their households' villages are not in the "
            "region tree."
        ) % {"n": f"{run.unplaced:,}"}
    return {
        "run": run.pk,
        "warnings_found": run.warnings_found,
        "warnings_added": run.warnings_added,
        "warnings_excluded": run.warnings_excluded,
        "households_added": run.households_added,
        "unplaced": run.unplaced,
        "summary": summary,
        "url": reverse("screening:index") + f"?year={year}",
        "link_text": _("The warnings"),
    }


def on_batch_accepted(*, batch: FeedBatch, actor: Any) -> None:
    """Queue, debounced, the screening of the batch's years (``feeds.hooks``)."""
    wanted = set(batch.years) & lake_years("roster")
    if batch.kind == "roster":
        wanted |= set(batch.years)
    this_year = timezone.localdate().year
    delay = dt.timedelta(seconds=settings.FANGPIN_SCREENING_DEBOUNCE_SECONDS)
    for year in sorted(y for y in wanted if 2017 <= y <= this_year):
        screening_submit(
            year=year,
            county_code=county_code_of(batch.region_path),
            actor=actor,
            run_after=timezone.now() + delay,
        )


def screening_due() -> list[Due]:
    """The county-years (and city-years) whose newest accepted feed batch came after their
    newest screening run, of the years the lake has a roster of."""
    roster_years = lake_years("roster")
    last_run = {
        (r["year"], r["county_code"]): r["last"]
        for r in ScreeningRun.objects.values("year", "county_code").annotate(last=Max("started_at"))
    }
    newest: dict[tuple[int, str], dt.datetime] = {}
    batches = FeedBatch.objects.filter(status=BatchStatus.ACCEPTED).values_list(
        "years", "region_path", "imported_at"
    )
    for years, region_path, imported_at in batches:
        county = county_code_of(region_path)
        for year in years:
            key = (int(year), county)
            if key[0] in roster_years and imported_at > newest.get(
                key, imported_at - dt.timedelta(1)
            ):
                newest[key] = imported_at
    due = []
    for (year, county), latest in sorted(newest.items()):
        # a run of every county covers each county too
        runs = [last_run.get((year, county)), last_run.get((year, ""))]
        ran = max((r for r in runs if r is not None), default=None)
        if ran is None or ran < latest:
            due.append(Due(year, county))
    return due
