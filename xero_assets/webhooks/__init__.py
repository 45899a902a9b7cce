"""Xero webhooks: the receiver that stores signed events (`receiver.py`) and the check of their signature
(`signature.py`). The Dagster sensor that turns stored events into syncs is `xero_assets/defs/webhook_sensor.py`."""
