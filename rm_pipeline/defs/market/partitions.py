"""The price partitions, declared once for the market domain: trading days from RM_HISTORY_START
(default 2000-01-03), whatever day the definitions load. Read here rather than where the keys are
computed (`rm_pipeline.defs.partitions`), so that the commands using those keys never read it."""

from rm_pipeline.defs.partitions import trading_days
from rm_pipeline.settings import get_settings

TRADING_DAYS = trading_days(get_settings().history_start)
