"""numguard: carrier deactivation feeds -> Kafka -> suppression store -> "may I text?".

The layout is the data flow, one import root:

    numguard.schemas   the Avro event and its codec (imports nothing of numguard)
    numguard.core      shared by both services: phone numbers, Kafka clients and
                       topics, dead letters, logs, metrics, signals, HTTP retries
    numguard.producer  source -> normalize -> encode -> publish
    numguard.consumer  consume -> decode -> apply -> commit (store, CRM, API, scrub)
    numguard.cli       the command line, the only place the services are put together
    numguard.devtools  the carrier simulator, the local broker, the webhook sink

`producer`, `consumer` and `schemas` live at the repository's top level and are
linked into this package, so the installed distribution has one import root.
tests/test_layout.py keeps the import directions.
"""
