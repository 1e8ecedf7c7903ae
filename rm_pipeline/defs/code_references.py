"""Assets with code references: a link from each asset to its source in the UI."""

import warnings

import dagster as dg


def linked_assets(*assets: dg.AssetsDefinition) -> dg.Definitions:
    """`assets`, each linked to its source. Dagster labels code references beta; that warning is
    ignored here and nowhere else."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.Definitions(assets=dg.with_source_code_references(assets))
