"""Fleet: scan many repositories on Dask and keep every result in a SQL database (the ``fleet`` extra).

Nothing here is imported by the single-repository scanner; ``mlposture fleet`` loads it only when invoked.
"""
