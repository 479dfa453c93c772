"""The fleet server: ingest from MQTT, storage, alerts, REST API, web console, CLI.

Imports only `fleet.protocol` from the rest of the project (DESIGN.md, Fleet).
"""
