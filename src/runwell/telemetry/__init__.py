"""runwell.telemetry"""
