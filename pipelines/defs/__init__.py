"""Dagster objects only: assets, checks, jobs, schedules, sensors, resources.

``pipelines/definitions.py`` loads every module of this package with dg
(``load_from_defs_folder``); each module exposes its objects at module level (or in one
``@dg.definitions`` function). Plain logic lives in ``pipelines.lib`` (no Dagster imports
there). This package module itself defines nothing, so importing one ``defs`` module never
loads the others.
"""
