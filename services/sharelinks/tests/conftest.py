"""Fixtures of the sharelinks tests: one real SeaweedFS (S3) per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.sharelinks.tests.seaweedfs import S3Endpoint, running_seaweedfs


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    """A SeaweedFS S3 gateway with a bucket; when ``weed`` cannot start, every test using it errors (no skip)."""
    with running_seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as endpoint:
        yield endpoint
