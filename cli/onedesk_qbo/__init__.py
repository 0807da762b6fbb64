"""onedesk-qbo: the operator's command line for the OneDesk ⇄ QuickBooks Online integration."""
