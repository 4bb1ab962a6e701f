"""The Techniques page's parts: a series' table, notes and lesson checks, overlaid curves, an ensemble's votes."""
