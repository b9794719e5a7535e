"""The portal's settings as deployed, for the page benchmark (benchmarks/pages.py) only: its
URLs add one throw-away page, ``/bench/one-query/``, the yardstick the other pages are
measured against."""

import copy
from pathlib import Path

from portal.settings import *  # noqa: F403
from portal.settings import TEMPLATES as PORTAL_TEMPLATES

ROOT_URLCONF = "harness.pages_urls"
TEMPLATES = copy.deepcopy(PORTAL_TEMPLATES)
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], Path(__file__).resolve().parent / "templates"]
# Static files collected as the image does (Dockerfile: collectstatic), in a folder of the
# benchmark's own; whitenoise serves them as in production.
STATIC_ROOT = Path(__file__).resolve().parents[2] / "var" / "bench" / "staticfiles"
