"""Watching our own network: flow-log readers and detectors (see docs/detection.md)."""

from abusedesk.detection.config import DetectionConfig, load_config
from abusedesk.detection.findings import Finding
from abusedesk.detection.run import Engine, detect_flows

__all__ = ["DetectionConfig", "Engine", "Finding", "detect_flows", "load_config"]
