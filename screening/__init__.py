"""Screening campaigns: spec, potentials, relaxation, hull, farm, and the command line."""
