"""A carrier simulator: Infobip, Convey and Twilio deactivation feeds served over real
HTTP on loopback, from seeded or given data, with deterministic faults.

    data = GeneratedDataset(seed=7, numbers=500, days=3, start_date=date(2024, 3, 1))
    with CarrierSimulator(data) as sim:
        httpx.get(sim.url("/convey/mcdn_deact_20240301.csv"))  # == data.convey_file(...)
        expected = list(data.convey_rows(date(2024, 3, 1)))  # the truth a reader must yield
"""

from numguard.devtools.simulator.clock import ManualClock
from numguard.devtools.simulator.dataset import GeneratedDataset
from numguard.devtools.simulator.faults import FaultKind, FaultPlan, FaultRule
from numguard.devtools.simulator.feeds import (
    Body,
    CarrierData,
    Change,
    Feed,
    InfobipReport,
    Kind,
    convey_file_name,
    twilio_file_name,
)
from numguard.devtools.simulator.files import DirectoryDataset, UnusableDirectory
from numguard.devtools.simulator.requests_log import RequestRecord
from numguard.devtools.simulator.server import CarrierSimulator, Credentials

__all__ = [
    "Body",
    "CarrierData",
    "CarrierSimulator",
    "Change",
    "Credentials",
    "DirectoryDataset",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "Feed",
    "GeneratedDataset",
    "InfobipReport",
    "Kind",
    "ManualClock",
    "RequestRecord",
    "UnusableDirectory",
    "convey_file_name",
    "twilio_file_name",
]
