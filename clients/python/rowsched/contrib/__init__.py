"""Integrations of the rowsched worker with application frameworks (``rowsched.contrib.django``)."""
