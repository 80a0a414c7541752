"""Test session set-up: a private DLCANON_HOME (results store, run folders), real data still found, 1 thread."""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
import torch

_TMP_HOME = Path(tempfile.mkdtemp(prefix="dlcanon_test_home_"))


def pytest_configure(config):
    sys.path.insert(0, str(Path(__file__).parent / "src"))
    from dlcanon.core.data import cache_dir, user_data_dir

    real_data, real_cache = user_data_dir(), cache_dir()
    os.environ["DLCANON_HOME"] = str(_TMP_HOME)          # results store and run folders: private to the session
    os.environ["DLCANON_CACHE"] = str(real_cache)        # parsed data cache: shared (keyed by checksum)
    os.environ["DLCANON_DATA"] = os.pathsep.join(filter(None, [os.environ.get("DLCANON_DATA"), str(real_data)]))
    torch.set_num_threads(1)


def pytest_unconfigure(config):
    shutil.rmtree(_TMP_HOME, ignore_errors=True)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    yield
