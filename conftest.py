"""Test session set-up: a private DLCANON_HOME (results store and run folders) and one torch thread.

The data (~/.local/share/dlcanon/data, system paths) and the parsed-data cache are found as usual.
"""

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
    os.environ["DLCANON_HOME"] = str(_TMP_HOME)
    torch.set_num_threads(1)


def pytest_unconfigure(config):
    shutil.rmtree(_TMP_HOME, ignore_errors=True)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    yield
