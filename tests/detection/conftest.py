"""Shared fixtures: one generated, labelled flow-log set per session (deterministic seed)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from abusedesk.detection.config import DetectionConfig, config_from_mapping
from abusedesk.inventory.csvfiles import parse_resources
from abusedesk.inventory.index import AttributionIndex
from tests.detection import synthetic


@pytest.fixture(scope="session")
def scenario() -> synthetic.Scenario:
    return synthetic.generate(seed=7)


@pytest.fixture(scope="session")
def test_config() -> DetectionConfig:
    return config_from_mapping(tomllib.loads(synthetic.TEST_CONFIG_TOML))


@pytest.fixture(scope="session")
def index(scenario: synthetic.Scenario) -> AttributionIndex:
    return AttributionIndex(parse_resources(scenario.inventory_csv))


@pytest.fixture(scope="session")
def text_files(scenario: synthetic.Scenario, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return synthetic.write_vpc_text(scenario, tmp_path_factory.mktemp("vpc-text"))


@pytest.fixture(scope="session")
def parquet_files(scenario: synthetic.Scenario, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return synthetic.write_vpc_parquet(scenario, tmp_path_factory.mktemp("vpc-parquet"))
