"""The WSGI entry point for gunicorn (scale-out): `gunicorn 'web.wsgi:app'`.

Settings come from the environment and config file as for `casebridge serve`; a settings
problem stops the worker with the message, not a traceback.
"""

from __future__ import annotations

import faulthandler

from casebridge.runtime import build_runtime
from casebridge.settings import get_settings
from web.app import create_app

# A worker that dies in C code (SIGSEGV, SIGABRT) leaves the Python stack of every thread on
# stderr instead of only gunicorn's "was sent SIGSEGV" (no personal data: code locations).
faulthandler.enable(all_threads=True)

app = create_app(build_runtime(get_settings()))
