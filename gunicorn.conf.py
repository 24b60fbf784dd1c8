"""gunicorn's settings for the demo host: ``gunicorn -w 4 'wsgi:create_app()'`` run here
reads this file by itself (``-c gunicorn.conf.py`` from elsewhere).

Once a worker has built its app, the app's objects (Flask's, SQLAlchemy's, the views')
stay for good: set apart from garbage collection (``gc.freeze()``), a full collection no
longer walks them. It took 30-45 ms, about once in a thousand requests. With
``--preload`` the app is built before the fork, and frozen there, forked workers also
keep sharing its pages.
"""

from __future__ import annotations

import gc


def pre_fork(server, worker):
    gc.freeze()


def post_worker_init(worker):
    gc.freeze()
