"""Dashboard: the organisation's ML security posture in the browser, read from the fleet database.

``mlposture serve`` (the ``fleet`` extra) loads this package only when invoked; the scanner never imports it.
"""
