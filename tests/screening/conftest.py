from __future__ import annotations

import pytest


@pytest.fixture
def lake(settings, tmp_path):
    settings.LAKE_DIR = tmp_path / "lake"
    return settings.LAKE_DIR
