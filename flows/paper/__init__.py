"""The one path to invoice paper: stock (ledger), three-way number reconciliation, printing.

The unattended invoice terminal (flows.terminal) and the citizen's tax-invoice flow both
print paper invoices through `PaperPath` (path.py), so the same rules hold for both:
no print without the tax core's, the invoice system's and the paper's numbers agreeing;
every form's fate recorded; a mismatch or an interrupted print holds all printing until
staff resolve it, audited.
"""
