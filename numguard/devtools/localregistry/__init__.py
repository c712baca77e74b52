"""A Confluent-compatible Schema Registry (Apicurio Registry, in memory) run with Java
on loopback, for tests and local runs on machines without a Docker engine."""
