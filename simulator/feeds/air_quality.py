"""Hourly readings of the air-quality monitoring stations (feed `air_quality`), with planted episodes and gaps."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from simulator.clock import iso
from simulator.vocabulary import AIR_STATIONS

DAYS_PER_SCALE = 30
INDUSTRIAL_STATION = "HP-AQ-03"
UNHEALTHY_AQI = 150
# US EPA (2024) PM2.5 breakpoints: concentration range (µg/m³) → AQI range.
PM25_BREAKPOINTS = (
    (0.0, 9.0, 0, 50),
    (9.1, 35.4, 51, 100),
    (35.5, 55.4, 101, 150),
    (55.5, 125.4, 151, 200),
    (125.5, 225.4, 201, 300),
    (225.5, 325.4, 301, 500),
)


def aqi_from_pm25(pm25: float) -> int:
    for low, high, aqi_low, aqi_high in PM25_BREAKPOINTS:
        if pm25 <= high:
            return round(aqi_low + (aqi_high - aqi_low) * (max(pm25, low) - low) / (high - low))
    return 500


def _daily_profile(hour: int) -> float:
    """Traffic peaks in the morning and the evening."""
    return 1.0 + 0.3 * math.exp(-((hour - 8) ** 2) / 4) + 0.4 * math.exp(-((hour - 20) ** 2) / 6)


class AirStations:
    """The monitoring stations and their hourly readings."""

    def __init__(self, rng: random.Random, now: datetime, scale: float, weather_seed: int):
        self.stations = dict(AIR_STATIONS)
        self.weather_seed = weather_seed
        self.base_pm25 = {s: 28.0 if s == INDUSTRIAL_STATION else rng.uniform(10, 25) for s in self.stations}
        self.last_hour = now.replace(minute=0, second=0, microsecond=0)
        hours = max(round(DAYS_PER_SCALE * 24 * scale), 24)
        self.records = [
            self._reading(rng, station, self.last_hour - timedelta(hours=back))
            for back in reversed(range(hours))
            for station in self.stations
        ]
        self._plant_episode(rng, INDUSTRIAL_STATION, hours=6, window=hours)
        other_station = rng.choice([s for s in self.stations if s != INDUSTRIAL_STATION])
        self._plant_episode(rng, other_station, hours=2, window=hours)
        null_readings = self._plant_gaps(rng)
        self.planted = {
            "unhealthy_hours": [
                [r["station_id"], iso(r["observed_at"])] for r in self.records if (r["aqi"] or 0) > UNHEALTHY_AQI
            ],
            "null_readings": null_readings,
        }

    def _reading(self, rng: random.Random, station: str, observed_at: datetime) -> dict:
        weather = random.Random(f"{self.weather_seed}:{observed_at.date()}").uniform(0.6, 1.25)
        level = self.base_pm25[station] * _daily_profile(observed_at.hour) * weather
        pm25 = round(level * rng.lognormvariate(0, 0.12), 1)
        return self._values(station, observed_at, pm25, round(pm25 * rng.uniform(1.3, 1.8), 1))

    @staticmethod
    def _values(station: str, observed_at: datetime, pm25: float, pm10: float) -> dict:
        return {
            "station_id": station, "observed_at": observed_at, "pm25": pm25, "pm10": pm10, "aqi": aqi_from_pm25(pm25),
        }

    def _plant_episode(self, rng: random.Random, station: str, hours: int, window: int) -> None:
        """A pollution episode: `hours` consecutive unhealthy hours (AQI > 150) at one station."""
        first = self.last_hour - timedelta(hours=rng.randrange(hours, max(window - 1, hours + 1)))
        episode = {first + timedelta(hours=h) for h in range(hours)}
        for index, record in enumerate(self.records):
            if record["station_id"] == station and record["observed_at"] in episode:
                pm25 = round(rng.uniform(70, 140), 1)
                self.records[index] = self._values(station, record["observed_at"], pm25, round(pm25 * 1.6, 1))

    def _plant_gaps(self, rng: random.Random) -> list[list]:
        """Sensor gaps: four readings with every value null, two with pm10 null."""
        healthy = [r for r in self.records if r["aqi"] <= UNHEALTHY_AQI]
        chosen = rng.sample(healthy, 6)
        for record in chosen[:4]:
            record.update(pm25=None, pm10=None, aqi=None)
        for record in chosen[4:]:
            record["pm10"] = None
        return sorted([r["station_id"], iso(r["observed_at"])] for r in chosen)

    def advance(self, rng: random.Random, new_now: datetime) -> None:
        """Readings for every whole hour up to `new_now`."""
        target = new_now.replace(minute=0, second=0, microsecond=0)
        while self.last_hour < target:
            self.last_hour += timedelta(hours=1)
            self.records.extend(self._reading(rng, station, self.last_hour) for station in self.stations)
