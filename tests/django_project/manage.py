#!/usr/bin/env python3
"""The Django test project's manage.py (the seed's project after its move to rowsched, docs/django.md).
rowsched's package must be importable: PYTHONPATH=clients/python, or `pip install ./clients/python`."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
