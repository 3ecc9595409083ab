"""gunicorn settings for production: ``gunicorn -c deploy/gunicorn.conf.py core.wsgi:app``.

Every worker is stateless: sessions are signed cookies (one SECRET_KEY for all),
rate-limit counters live in Redis (RATELIMIT_STORAGE_URI), permissions are synced once by
``retiree-admin init`` at deploy time (FAB_UPDATE_PERMS stays False), long jobs run on
``retiree-admin worker`` processes (JOB_BACKEND=rq).
"""
import multiprocessing
import os

bind = os.environ.get("RETIREE_ADMIN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("RETIREE_ADMIN_WORKERS", 2 * multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("RETIREE_ADMIN_THREADS", 2))
timeout = 60
# Idle keep-alive connections are closed after this many seconds: above a browsing
# client's pause between pages, or a request sent as the server closes the connection
# gets no answer (nginx in front speaks HTTP/1.0 to us and keeps none).
keepalive = 5
graceful_timeout = 30
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("RETIREE_ADMIN_FORWARDED_ALLOW_IPS", "127.0.0.1")
