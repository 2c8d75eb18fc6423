"""`pip install ./clients/python` works offline: there is deliberately no pyproject.toml, so pip
builds with the setuptools and wheel already installed (Debian's python3-setuptools and
python3-wheel) instead of fetching them into an isolated build environment. The only dependency, a
PostgreSQL driver, is expected from Debian (python3-psycopg2), so none is declared (pip would try to
fetch it)."""

from setuptools import find_packages, setup

setup(
    name="rowsched",
    version="0.1.0",
    description="rowsched's Python worker: runs the application's functions named by job_info rows",
    long_description=open(__file__.replace("setup.py", "README.md")).read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=find_packages(include=["rowsched", "rowsched.*"]),
    entry_points={"console_scripts": ["rowsched-worker = rowsched.__main__:main"]},
)
