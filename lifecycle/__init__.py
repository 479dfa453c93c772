"""How every long-running process of the project starts, stops and dies.

The kiosk app, the agent, the fleet server, the reference back office and the invoice
terminal all stop the same way on SIGTERM (what `systemctl stop` sends) and SIGINT: they
say STOPPING=1 to systemd, finish or checkpoint what they are doing, close their devices and
exit 0. What a process starts dies with it, even when the process is killed (-9).
This package imports nothing of the product, so every package may use it.
"""
