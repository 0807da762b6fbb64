"""QBO adapters: the Accounting API client (``client``) and Intuit OAuth (``oauth``); wired in ``wiring``."""
