"""Python data code and DVC remotes: verify=False, http:// storage endpoints, database TLS, remote SSE."""

from __future__ import annotations

from mlposture.probes.infrastructure import InfrastructureProbe

PASS, PARTIAL, FAIL = "pass", "partial", "fail"


def test_data_code_anti_patterns(probe_scan) -> None:  # type: ignore[no-untyped-def]
    s = probe_scan(InfrastructureProbe, "infrastructure/python_data_fail")
    assert s.status("DATA-02") == "fail"
    got = {(f.path, f.line, f.rule) for f in s.findings()}
    assert got == {
        ("src/pipeline/ingest.py", 7, "infrastructure.plaintext-data-endpoint"),  # http:// S3 URL
        ("src/pipeline/ingest.py", 8, "infrastructure.plaintext-data-endpoint"),  # sslmode=disable
        ("src/pipeline/ingest.py", 13, "infrastructure.tls-verify-disabled"),  # verify=False
        ("src/pipeline/ingest.py", 19, "infrastructure.plaintext-data-endpoint"),  # http://minio...:9000
        (".dvc/config", 9, "infrastructure.plaintext-data-endpoint"),  # endpointurl = http://
    }
    # loopback MinIO, https URLs, a non-data http URL and test code are not flagged
    assert not [f for f in s.findings() if f.path.startswith("tests/") or f.path.endswith("secure.py")]
    assert ("src/pipeline/secure.py", 6, PARTIAL) in s.where("DATA-02")  # sslmode=verify-full
    assert s.where("DATA-01") == {
        (".dvc/config", 5, PASS),  # sse = aws:kms
        ("src/pipeline/secure.py", 15, PASS),  # put_object(..., ServerSideEncryption="aws:kms")
    }
    for f in s.findings():
        assert "secret" not in f.content  # database credentials never reach the fingerprint basis


def test_unparseable_python_is_left_to_the_repo_note(tmp_path, probe_scan) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "etl.py").write_text("def broken(:\n    requests.get(url, verify=False)\n")
    s = probe_scan(InfrastructureProbe, tmp_path)
    assert not s.findings()


def test_the_visitor_reads_in_source_order_and_skips_test_code() -> None:
    from mlposture.probes.infrastructure.datacode import scan_module
    from mlposture.scanner.sources.python import PyModule, module_of_text

    text = "def f():\n    requests.get(u, verify=False)\nrequests.get(u, verify=False)\n"
    mod = module_of_text("etl.py", text)
    assert isinstance(mod, PyModule)
    found = scan_module(mod)
    # the nested call comes first: a repeated finding is reported at its first line in the file
    assert found is not None and [(s.rule, s.line) for s in found] == [("tls-verify-disabled", 2),
                                                                       ("tls-verify-disabled", 3)]
    in_tests = module_of_text("tests/test_etl.py", text)
    assert isinstance(in_tests, PyModule) and scan_module(in_tests) is None


def test_a_repeated_finding_is_reported_at_its_first_line(tmp_path, probe_scan) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "etl.py").write_text("def f():\n    requests.get(u, verify=False)\nrequests.get(u, verify=False)\n")
    s = probe_scan(InfrastructureProbe, tmp_path)
    assert [(f.path, f.line) for f in s.findings("infrastructure.tls-verify-disabled")] == [("etl.py", 2)]
