"""Outbound channels: a durable delivery queue in the store, signed webhooks, SMTP e-mail, SMS.

Flow: ``dispatch.enqueue_alert`` renders an alert once per channel, *redacted for that channel's
tier*, into ``alert_deliveries`` rows; ``worker.DeliveryWorker.run_once`` claims due rows, sends
them through the channel's sender, and records success, a retry (exponential backoff with
jitter) or, after ``max_attempts`` or a permanent refusal, the dead-letter state.
"""
