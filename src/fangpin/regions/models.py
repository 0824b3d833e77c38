"""Regions: one tree, city → county → township → village.

Each node has a ``code`` (6 digits for city and county, 9 for a township, 12 for
a village, GB/T 2260 / 统计用区划代码 style) and a materialized ``path`` of the
codes from the root, ending in "/", so a subtree is one indexed prefix match
(``path__startswith``) — the basis of every user's region scope.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.TextChoices):
    CITY = "city", _("City 市")
    COUNTY = "county", _("County 县(市、区)")
    TOWNSHIP = "township", _("Township 乡镇")
    VILLAGE = "village", _("Village 村")


LEVEL_ORDER = [Level.CITY, Level.COUNTY, Level.TOWNSHIP, Level.VILLAGE]


class Region(models.Model):
    code = models.CharField(_("code"), max_length=12, unique=True)
    name = models.CharField(_("name"), max_length=64)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices, db_index=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.CharField(max_length=255, unique=True, editable=False)
    kind = models.CharField(max_length=32, blank=True)  # district / county / county-level city

    class Meta:
        ordering = ["path"]
        verbose_name = _("region 行政区划")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(level__in=[c.value for c in Level]), name="region_level_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def save(self, *args, **kwargs):  # path is derived data, kept in step with parent
        self.path = (self.parent.path if self.parent else "") + self.code + "/"
        super().save(*args, **kwargs)

    @property
    def depth(self) -> int:
        return LEVEL_ORDER.index(Level(self.level))

    def ancestors(self) -> list[Region]:
        codes = self.path.strip("/").split("/")[:-1]
        by_code = {r.code: r for r in Region.objects.filter(code__in=codes)}
        return [by_code[c] for c in codes if c in by_code]

    def is_within(self, other: Region) -> bool:
        """True when this node is ``other`` or lies below it."""
        return self.path.startswith(other.path)
