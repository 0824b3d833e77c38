"""``python bench/screening [options]`` (or ``python -m bench.screening``): see ``__init__.py``.

The package, by capability: ``data.py`` builds or reuses the data and gives each run a
fresh ops database; ``runs.py`` times the whole ``fangpin screen`` process, runs it once
more with timers (its child side in ``breakdown.py``) and the DuckDB floor;
``baseline.py`` is the PostgreSQL baseline (the parameters as VALUES, the one SQL
statement, the lake loaded with COPY); ``report.py`` checks the baseline against fangpin
and reports; ``process.py`` runs and measures child processes; ``main.py`` holds the
options and runs the steps in order.

The same entry point runs the bench's own children (``--breakdown-child``,
``--snapshot-child``), which import only what they need.
"""

import time

_T0 = time.perf_counter()  # first statement: the breakdown child measures from here
_T0_WALL = time.time()

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

if not __package__:  # run as a directory: the repository root, not this one, on the path
    sys.path[0] = str(Path(__file__).resolve().parents[2])

if len(sys.argv) > 1 and sys.argv[1] == "--breakdown-child":
    from bench.screening.breakdown import breakdown_child

    breakdown_child(sys.argv[2:], started=_T0, started_wall=_T0_WALL)
elif len(sys.argv) > 1 and sys.argv[1] == "--snapshot-child":
    from bench.screening.breakdown import snapshot_child

    snapshot_child(sys.argv[2:])
else:
    from bench.screening.main import main

    raise SystemExit(main())
