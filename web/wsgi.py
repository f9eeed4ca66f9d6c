"""The WSGI entry point for gunicorn (scale-out): `gunicorn 'web.wsgi:app'`.

Settings come from the environment and config file as for `casebridge serve`; a settings
problem stops the worker with the message, not a traceback.
"""

from __future__ import annotations

from casebridge.runtime import build_runtime
from casebridge.settings import get_settings
from web.app import create_app

app = create_app(build_runtime(get_settings()))
