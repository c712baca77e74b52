"""Tests on a local 3-node Kafka cluster (the `cluster` marker): nodes killed and
restarted under load, the whole cluster down, replicas of the consumers."""
