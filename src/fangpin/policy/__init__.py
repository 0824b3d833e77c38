"""Policy engine (政策引擎): rules as code for eligibility and stepped relief.

Engine modules, free of Django (ARCHITECTURE.md: "no ORM imports"):

- ``spec``     the vocabulary: household types, circumstances, bases, parameter paths
- ``loader``   the dated YAML parameters (``parameters/``) with county overrides
- ``scalar``   one case in exact ``Decimal``, with a full explanation
- ``batch``    a whole table of cases as one Ibis expression (DuckDB by default)
- ``explain``  what produced an amount, and the reasons in Chinese and English
- ``inputs``   one case read from JSON-like data (command and API)
- ``lines``    the income line of a year (what pairing compares annual income with)

Django integration: ``apps``, ``api`` (POST /api/v1/relief/calculate), ``views``
and ``urls`` (the policy page at /policy/), ``management/commands/relief.py``
(``fangpin relief calc --json PATH|-``). See docs/POLICY-ENGINE.md.
"""
