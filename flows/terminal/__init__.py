"""The unattended invoice terminal (e-tax mailing centre): the loop, its status, its
simulated devices. No Kivy here; `kiosk terminal` adds the staff screen."""
