"""Scaling-law fits of a finished sweep's runs table (SCIENCE.md section 3)."""
