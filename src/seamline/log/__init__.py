"""The event log: the durable, ordered, replayable record of every accepted message."""

from seamline.log.base import EventLog, LogRecord
from seamline.log.local import LocalLog

__all__ = ["EventLog", "LocalLog", "LogRecord"]
