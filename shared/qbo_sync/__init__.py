"""OneDesk <-> QuickBooks Online sync: the package every Lambda function imports (shipped as a layer)."""
