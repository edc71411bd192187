"""Scaling-law fits of a finished sweep's runs table (README "The science")."""
