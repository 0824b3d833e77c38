"""The registry of managed households (户), their members and annual incomes."""
