"""The sender's own delivery reports: permanent failures that mean a number is gone
become UNDELIVERABLE events (codes.py says which), from Twilio status callbacks,
Infobip delivery reports (receiver.py serves both) and CSV files (`numguard ingest`).
"""
