"""The signed update bundle: its format (manifest of hashes, ed25519 signature), keys and checks.

One package that both sides import: the operator's tools build and sign a bundle with it,
the fleet server verifies an uploaded bundle with it, and a kiosk's installer
(`fleet.updates`) verifies a downloaded one with exactly the same code. docs/updates.md.
"""
