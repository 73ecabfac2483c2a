"""Loket.nl: the OAuth server (consent, rotating tokens) and the REST API v2 client.

``client.LoketClient`` reads employers, payroll administrations, journal runs and their lines and
marks runs processed; ``oauth.LoketOAuth`` is the token endpoint; ``errors`` the typed errors;
``parse`` turns Loket JSON into ``shared.journal.models`` values.
"""
