"""The portal's settings for the test suite: the deployed ones, with a key of its own.

The portal refuses to start with DEBUG off and no SECRET_KEY; the suite runs with DEBUG off
(as deployed), so it names its own throw-away key here rather than weakening that rule."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret-" + "x" * 40)

from portal.settings import *  # noqa: F403
