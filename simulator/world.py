"""The simulated department world: every feed's records, deterministic from a seed and a `now`."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta

from simulator.clock import TZ, local_now
from simulator.feeds.air_quality import AirStations
from simulator.feeds.citizen_feedback import HotlineSystem
from simulator.feeds.dept_indicators import build_form_files
from simulator.feeds.dept_monthly_report import build_report_files
from simulator.feeds.directive_tasks import build_tasks
from simulator.feeds.public_investment import InvestmentLedger, Project
from simulator.feeds.security_incidents import SocSystem
from simulator.feeds.tthc_dossiers import DossierSystem
from simulator.org_units import OrgUnits, load_org_units


class World:
    """All department systems at one moment `now`; `advance()` moves time on and the records with it.

    `planted` maps each feed id to what was planted in it, as of the construction time: bad records
    and files, and the exact ids of late, overdue and unhealthy cases. Records named as bad values or
    as open critical incidents keep their defect when the world advances.
    """

    def __init__(self, seed: int = 42, now: datetime | None = None, months: int = 6, scale: float = 1.0):
        if now is not None and now.tzinfo is None:
            raise ValueError(f"now must be timezone-aware (e.g. tzinfo=ZoneInfo('Asia/Ho_Chi_Minh')), got {now!r}")
        if months < 2:
            raise ValueError(f"months must be at least 2 (planted report defects need a past period), got {months}")
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.seed, self.months, self.scale = seed, months, scale
        self.now = (now or local_now()).astimezone(TZ).replace(microsecond=0)
        self.units: OrgUnits = load_org_units()
        self.lock = threading.Lock()
        self._advance_rng = random.Random(f"{seed}:advance")
        self._one_stop_shop = DossierSystem(self._rng("tthc_dossiers"), self.units, self.now, months, scale)
        self._hotline = HotlineSystem(self._rng("citizen_feedback"), self.units, self.now, months, scale)
        self._soc = SocSystem(self._rng("security_incidents"), self.units, self.now, months, scale)
        self._air = AirStations(self._rng("air_quality"), self.now, scale, weather_seed=seed)
        self.report_files, reports_planted = build_report_files(
            self._rng("dept_monthly_report"), self.units, self.now, months
        )
        self.form_files, forms_planted = build_form_files(self._rng("dept_indicators"), self.units, self.now, months)
        self.tasks, tasks_planted = build_tasks(self._rng("directive_tasks"), self.units, self.now)
        self._ledger = InvestmentLedger(self._rng("public_investment"), self.now)
        self.withdrawn: dict[str, list[dict]] = {}  # per records attribute: {id, deleted_at} of each deleted one
        self.planted: dict[str, dict] = {
            "tthc_dossiers": self._one_stop_shop.planted,
            "citizen_feedback": self._hotline.planted,
            "security_incidents": self._soc.planted,
            "air_quality": self._air.planted,
            "dept_monthly_report": reports_planted,
            "dept_indicators": forms_planted,
            "directive_tasks": tasks_planted,
            "public_investment": self._ledger.planted,
        }

    def _rng(self, feed: str) -> random.Random:
        """One random stream per feed, so that changing one feed's generator leaves the others as they were."""
        return random.Random(f"{self.seed}:{feed}")

    @property
    def dossiers(self) -> list[dict]:
        return self._one_stop_shop.records

    @property
    def tickets(self) -> list[dict]:
        return self._hotline.records

    @property
    def incidents(self) -> list[dict]:
        return self._soc.records

    @property
    def air_readings(self) -> list[dict]:
        return self._air.records

    @property
    def stations(self) -> dict[str, str]:
        """Station id → Vietnamese station name."""
        return self._air.stations

    @property
    def projects(self) -> list[Project]:
        return self._ledger.projects

    @property
    def investment_rows(self) -> list[dict]:
        """The finance ledger's rows as of `now`."""
        return self._ledger.rows(self.now)

    def withdraw(self, records: str, id_field: str, ids: set[str], at: datetime) -> None:
        """Delete records from a department system: they disappear from its API, which lists them as deleted
        (records: the World attribute, e.g. "dossiers")."""
        with self.lock:
            kept, gone = [], []
            for record in getattr(self, records):
                (gone if record[id_field] in ids else kept).append(record)
            getattr(self, records)[:] = kept
            self.withdrawn.setdefault(records, []).extend({id_field: r[id_field], "deleted_at": at} for r in gone)

    def advance(self, hours: float) -> None:
        """Move `now` forward: open dossiers, tickets and incidents progress, new ones arrive, stations report."""
        if hours < 0:
            raise ValueError(f"hours must not be negative, got {hours}")
        with self.lock:
            old_now, new_now = self.now, self.now + timedelta(seconds=round(hours * 3600))
            self._one_stop_shop.advance(self._advance_rng, old_now, new_now)
            self._hotline.advance(self._advance_rng, old_now, new_now)
            self._soc.advance(self._advance_rng, old_now, new_now)
            self._air.advance(self._advance_rng, new_now)
            self.now = new_now
