"""gunicorn settings for the web: `gunicorn -c deploy/gunicorn.conf.py 'web.wsgi:app'`.

With engine_mode embedded (one machine, no Prefect server) every worker tries to start the
engine's schedule and the engine lock lets exactly one of them run it; the others stand by
and take over if it exits. With engine_mode external (`casebridge worker` processes and a
Prefect server) the web runs no flows at all.
"""

import os

bind = os.environ.get("WEB_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = "gthread"
threads = 8
graceful_timeout = 60  # a flow run in progress finishes before the worker exits

_engine = None


def post_worker_init(worker):
    global _engine
    from casebridge.cli import start_embedded_engine
    from casebridge.runtime import build_runtime
    from casebridge.settings import get_settings

    _engine = start_embedded_engine(build_runtime(get_settings()))


def worker_exit(server, worker):
    if _engine is not None:
        _engine.stop()
