"""Dagster definitions by domain: resources, partitions, assets and their checks, jobs, schedules."""
