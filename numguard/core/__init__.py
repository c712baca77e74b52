"""The shared core: phone numbers, Kafka clients and topics, dead letters, logs, metrics
and signals. It imports nothing of numguard but the schemas; producer and consumer
import it."""
