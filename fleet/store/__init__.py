"""The fleet database: SQLAlchemy 2 models, Alembic migrations applied on first use, and a small API.

    from mlposture.fleet.store import open_store
    with open_store("sqlite:///fleet.db") as store:
        store.import_report("mlposture-report.json", source="https://git.example.com/org/repo")
        for row in store.latest_per_repo():
            print(row.repo, row.score, row.risk)
"""

from mlposture.fleet.store.engine import DEFAULT_URL, ENV_VAR, StoreError, default_url
from mlposture.fleet.store.facts import ReportError
from mlposture.fleet.store.queries import ArtifactRow, ControlStatus, RepoStatus, ScanSummary, ScorePoint
from mlposture.fleet.store.store import Recorded, Store, open_store

__all__ = [
    "DEFAULT_URL",
    "ENV_VAR",
    "ArtifactRow",
    "ControlStatus",
    "Recorded",
    "RepoStatus",
    "ReportError",
    "ScanSummary",
    "ScorePoint",
    "Store",
    "StoreError",
    "default_url",
    "open_store",
]
