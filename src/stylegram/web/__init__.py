"""`stylegram serve`: a web page that drives the same engine (app.py: routes; queue.py: the jobs)."""
