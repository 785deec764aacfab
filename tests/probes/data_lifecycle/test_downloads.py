"""DATA-04: a data download is data (datasets, tables, archives of data, model weights), never a tool installer, a
release binary, a package repository or a REST API call."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlposture.probes.lifecycle.provenance import is_data_url

RULE = "data_lifecycle.mutable-download"


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_dvc_pipeline_with_installers_in_its_dockerfile_passes(scan):
    s = scan("dvc_installers")
    assert s.findings(RULE) == []
    assert s.status("DATA-04") == "pass"
    assert [(e.path, e.line) for e in s.evidence("DATA-04") if e.effect.value == "pass"] == [
        (".github/workflows/train.yml", 11)]


def test_real_data_download_still_fails_beside_installers(scan, tmp_path):
    root = _write(tmp_path, {
        "Dockerfile": "FROM python:3.11\nRUN curl -sSL https://awscli.amazonaws.com/awscli-exe-linux-x86_64.zip "
                      "-o aws.zip\n",
        "scripts/fetch.sh": "#!/bin/sh\nset -e\nwget https://example.org/datasets/churn/train.csv -O data/train.csv\n",
        "src/load.py": "import urllib.request\n\nurllib.request.urlretrieve('https://bootstrap.pypa.io/get-pip.py', "
                       "'get-pip.py')\nurllib.request.urlretrieve('https://example.org/files/corpus.tar.gz', 'c')\n",
        "src/weather.py": "import requests\n\ndef now():\n    return requests.get('https://api.weather.gov/points/1,2')"
                          ".json()\n",
    })
    s = scan(root)
    assert {(f.path, f.line) for f in s.findings(RULE)} == {("scripts/fetch.sh", 3), ("src/load.py", 4)}
    assert s.status("DATA-04") == "fail"


@pytest.mark.parametrize(("url", "data"), [
    ("https://awscli.amazonaws.com/awscli-exe-linux-x86_64.zip", False),
    ("https://github.com/helm/helm/releases/download/v3.14.0/helm-v3.14.0-linux-amd64.tar.gz", False),
    ("https://github.com/prometheus/node_exporter/releases/download/v1.7.0/node_exporter-1.7.0.linux-amd64.tar.gz",
     False),
    ("https://repo.anaconda.com/miniconda/Miniconda3-latest-Linux-x86_64.sh", False),
    ("https://raw.githubusercontent.com/org/repo/main/scripts/install.sh", False),
    ("https://api.openweathermap.org/data/2.5/weather?q=London", False),
    ("https://example.com/api/records.json", False),
    ("http://[broken", False),
    ("https://github.com/ultralytics/assets/releases/download/v8.1.0/yolov8n.pt", True),
    ("https://archive.ics.uci.edu/static/public/222/bank+marketing.zip", True),
    ("https://raw.githubusercontent.com/org/repo/main/data/train.csv", True),
    ("https://example.com/api/v1/export/records.parquet", True),
    ("https://huggingface.co/datasets/imdb/resolve/main/plain_text/train-00000-of-00001.parquet", True),
])
def test_what_a_data_url_is(url, data):
    assert is_data_url(url) is data
