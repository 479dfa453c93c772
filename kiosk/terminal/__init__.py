"""`kiosk terminal`: the unattended invoice terminal with its staff screen (docs/terminal.md)."""
