"""Demo seeding for ``make demo`` (``fangpin demo``): what a synthetic county needs beyond
its registry and feeds — a funded relief fund with last year settled, and relief cases
waiting at every step. Runs every change through the apps' own services (permissions,
guards, audit); no production app imports this package."""
