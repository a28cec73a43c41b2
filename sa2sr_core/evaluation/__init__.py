"""Metrics, the classical baseline, evaluation on the test splits, tables, the report."""
