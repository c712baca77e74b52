"""Where the time goes in each stage whose target is not met, and what was tried: read
beside the profile the run prints under the table. Written by people, from profiles."""

from __future__ import annotations

NOTES: dict[str, str] = {
    "ingest": (
        "one Python process reads the CSV, normalizes each row, encodes it (fastavro, a "
        "call a record) and hands it to librdkafka, on one core; librdkafka itself is "
        "far from busy (the reference). In place: transactions of 50,000 rows, "
        "linger.ms 20; a clean field skips the control-character regex and a report's "
        "day is read from its id once (a tenth of normalizing). Not yet tried: the "
        "encoding in a second process (both cores), rows handed over in batches; "
        "delivery polling a batch, not a message."
    ),
    "consume_sqlite": (
        "per event, in one process: a fastavro decode (about 11 µs, a third of the "
        "plain read's whole cost), the rules folding it into the number's state, its "
        "history row and state-topic record, then SQLite's executemany and the commit "
        "that also stores the offsets. Tried and kept: metrics and lag per batch, "
        "orjson state records, order keys as plain text, batches of 10,000, WAL with "
        "synchronous=NORMAL and a larger page cache (8.9k -> 22k events/s); the cache "
        "then went from 64 MB to 16: no slower for 1,000,000 events, 95 MB less peak "
        "RSS (288 -> 193 MB; the rest: Python and its libraries about 60 MB, a batch's "
        "objects, librdkafka's buffers). Both cores: "
        "replicas of consume store in one group share the partitions (processes "
        "opening one new SQLite file together now all open it); two on this machine, "
        "300,000 events: 15.1k -> 19.6k events/s, SQLite's one writer at a time is "
        "the limit. fastavro's own decode is about 6 µs of the 9 (measured)."
    ),
    "consume_postgresql": (
        "as for SQLite, on one core; PostgreSQL's own COPY is the reference. Tried and "
        "kept: a batch's states and history copied into temporary tables and upserted "
        "from them in one statement each (was executemany: a statement, and a "
        "parameter adaptation in Python, a row), numbers read with = ANY(array) in one "
        "statement (was 500 placeholders a chunk, parsed each time): the store's "
        "writes alone 15k -> 19k events/s side by side. Both cores: two replicas in "
        "one group, 300,000 events: 15.0k -> 24.5k events/s when the partitions split "
        "at once (PostgreSQL writes different rows side by side)."
    ),
    "replay": (
        "replay is the store consumer reading every partition from the start, so its "
        "time goes where consume store's does (decode, fold, write); the plain read of "
        "the same topic is 10x faster. Tried and kept: --jobs, processes sharing the "
        "partitions (one a CPU: two here), then one pass for the checkpoints: 500,000 "
        "events 24.4k -> 29.6k events/s; they take turns at SQLite's one writer, so "
        "a third process adds nothing. The profile below is of one process (--jobs 1)."
    ),
    "scrub": (
        "per row: the csv module's reading and writing, reading the number as people "
        "write it, parsing the consent date, the rules. Tried and kept: rows as lists "
        "(csv.reader/writer, not dicts), coverage answers computed once a day, one "
        "lookup a chunk of 2,000 rows: a profiled run went from 66 s to 34 s; chunks "
        "decided by worker processes (--jobs, one a CPU; 300,000 contacts on a busy "
        "machine 7.3 -> 5.6 s, output byte-identical). What remains in the parent: "
        "the csv module's reading and writing, and handing chunks to the workers."
    ),
    "crm": (
        "each delivery is a signed CloudEvent built, posted and awaited in one event "
        "loop, with per-number order kept; the process is CPU-bound in Python (JSON, "
        "HMAC, httpx). Next: more deliveries in flight per endpoint and a second "
        "process for a partition group."
    ),
    "serve_single_sqlite": (
        "the HTTP stack alone answers a constant at about 2.5x this rate; each lookup "
        "adds FastAPI's routing and validation, the token check, the store read and "
        "the rules in Python. Workers: one a core (--workers). Tried: uvloop instead "
        "of asyncio's loop, about 10 % more, within this machine's noise: not kept."
    ),
    "serve_single_postgresql": (
        "each lookup is a round trip to PostgreSQL on the same two cores (its backend, "
        "the API worker and the load generator share them). Tried and kept: the lookup "
        "waits on the event loop through asynchronous connections (was a thread hop: "
        "285 -> 165 µs in-process, 2.2k -> 3.9k lookups/s with 2 workers); the "
        "token's place in the OpenAPI document written from the middleware's public "
        "paths instead of a FastAPI security dependency solved on every request "
        "(in-process 3.9k -> 4.6k/s). Tried: a scalar parameter for one number "
        "instead of an array, within noise: not kept."
    ),
    "serve_batch_sqlite": (
        "a 10,000-number batch is one request on one worker: validation of the items, "
        "reading the numbers, 20 store reads of 500, the rules, the JSON answer "
        "(860 KB). Tried and kept: items validated as a TypedDict (a tenth of a model's "
        "cost), orjson answers, cheaper row conversion: in-process 120 -> 100 ms; "
        "each worker's startup objects frozen out of the garbage collector's sight "
        "(gc.freeze), so full collections during a batch no longer walk them: "
        "in-process 106-155 -> 84-108 ms, runs alternated."
    ),
    "serve_batch_postgresql": (
        "as on SQLite, plus the read from PostgreSQL: one statement with the numbers "
        "as an array (was 20 of 500 placeholders each)."
    ),
}
