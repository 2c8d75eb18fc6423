"""rowsched's Python client: a worker that runs the application's own functions named by worker jobs
(`func` = "module:callable" in job_info), through the SQL protocol of rowsched's sql/010_workers.sql.

    from rowsched.worker import Worker
    Worker("postgresql:///app", queues=["default"], concurrency=4).run()

or `python3 -m rowsched worker --dsn postgresql:///app`. See docs/workers.md.
"""

__version__ = "0.1.0"
