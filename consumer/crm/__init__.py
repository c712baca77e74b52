"""consume -> decode -> deliver -> commit: every state change, as a signed CloudEvent, to
each subscribed CRM webhook, in order per number; failures to <topic>.crm.dlq."""
