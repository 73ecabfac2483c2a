"""AFAS Profit (App Connector token, FiEntries) and AFAS SB (OAuth, payroll journal entries)."""
