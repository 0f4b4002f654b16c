# -*- coding: utf-8 -*-
# Copyright: scs.kaas contributors
# Apache License 2.0 (see LICENSE)
"""The add-on chart repository: charts packaged from a (synthetic) Go module in a module cache made
here, verified against a recorded h1 hash, indexed, and served by a real ``http.server``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import socket
import urllib.request

import pytest
import yaml

from ansible_collections.scs.kaas.plugins.module_utils import artifacts
from ansible_collections.scs.kaas.plugins.module_utils.addons import catalog
from ansible_collections.scs.kaas.plugins.module_utils.addons import repository
from ansible_collections.scs.kaas.plugins.module_utils.embedded import process
from ansible_collections.scs.kaas.roles.management_cluster.files.embedded import local_command

RUNNER = local_command.runner()
MODULE, VERSION = "example.com/charts", "v1.0.0"
KEY = "%s@%s" % (MODULE, VERSION)

# Two add-ons from one module, listed out of install order.
CATALOG = {
    "other": {"chart": "other", "order": 20,
              "source": {"module": MODULE, "version": VERSION, "path": "charts/other",
                         "chart_version": "0.2.0", "app_version": None}},
    "demo": {"chart": "demo", "order": 10,
             "source": {"module": MODULE, "version": VERSION, "path": "deploy/demo",
                        "chart_version": "1.2.3", "app_version": "v1.0.0"}},
}

CHARTS = {
    "deploy/demo/Chart.yaml": "apiVersion: v2\nname: demo\nversion: v0.0.0\nappVersion: v0.0.0\n",
    "deploy/demo/values.yaml": "image: {tag: latest}\n",
    "deploy/demo/templates/deployment.yaml": "kind: Deployment\n",
    "charts/other/Chart.yaml": "apiVersion: v2\nname: other\nversion: 0.2.0\nappVersion: \"2.0\"\n",
    "charts/other/templates/configmap.yaml": "kind: ConfigMap\n",
    "go.mod": "module example.com/charts\n",
}


@pytest.fixture
def module_cache(tmp_path, monkeypatch):
    """A Go module cache holding the module, whose h1 hash is recorded as the real ones are."""
    cache = tmp_path / "gomodcache"
    module_dir = cache / "example.com" / ("charts@%s" % VERSION)
    for relative, text in CHARTS.items():
        path = module_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    monkeypatch.setenv("GOMODCACHE", str(cache))
    monkeypatch.setitem(artifacts.GO_MODULES, KEY, {"h1": artifacts.go_dirhash(str(module_dir), MODULE, VERSION),
                                                    "source": "recorded by the test"})
    return module_dir


def _build(directory, **kwargs):
    kwargs.setdefault("catalog", CATALOG)
    return repository.build(str(directory), RUNNER, **kwargs)


def _snapshot(directory):
    return dict((name, (os.stat(str(directory / name)).st_mtime_ns, (directory / name).read_bytes()))
                for name in sorted(os.listdir(str(directory))))


def test_the_charts_are_packaged_in_install_order_and_indexed(tmp_path, module_cache):
    out = tmp_path / "charts"
    result = _build(out)
    assert result["changed"] is True
    packaged = [(c["addon"], c["name"], c["version"]) for c in result["charts"]]
    assert packaged == [("demo", "demo", "1.2.3"), ("other", "other", "0.2.0")]
    assert sorted(os.listdir(str(out))) == ["demo-1.2.3.tgz", "index.yaml", "other-0.2.0.tgz"]
    assert result["index"] == str(out / "index.yaml")
    index = yaml.safe_load((out / "index.yaml").read_text())
    for chart in result["charts"]:
        assert chart["file"] == str(out / ("%s-%s.tgz" % (chart["name"], chart["version"])))
        assert chart["sha256"] == hashlib.sha256(open(chart["file"], "rb").read()).hexdigest()
        (entry,) = index["entries"][chart["name"]]
        assert (entry["version"], entry["digest"], entry["urls"]) == (chart["version"], chart["sha256"],
                                                                      [os.path.basename(chart["file"])])
    # The catalog's versions replace the release template's placeholders.
    assert index["entries"]["demo"][0]["appVersion"] == "v1.0.0"
    assert index["entries"]["other"][0]["appVersion"] == "2.0"


def test_a_second_build_changes_and_rewrites_nothing(tmp_path, module_cache):
    out = tmp_path / "charts"
    first = _build(out)
    before = _snapshot(out)
    second = _build(out)
    assert second["changed"] is False
    assert [c["changed"] for c in second["charts"]] == [False, False]
    assert [c["sha256"] for c in second["charts"]] == [c["sha256"] for c in first["charts"]]
    assert _snapshot(out) == before


def test_stale_packages_are_removed_so_the_index_describes_the_files_present(tmp_path, module_cache):
    out = tmp_path / "charts"
    _build(out)
    (out / "demo-1.0.0.tgz").write_bytes(b"an older package")
    (out / "notes.txt").write_text("not a package, left alone\n")
    result = _build(out, names=["demo"])
    assert result["changed"] is True
    assert sorted(os.listdir(str(out))) == ["demo-1.2.3.tgz", "index.yaml", "notes.txt"]
    assert list(yaml.safe_load((out / "index.yaml").read_text())["entries"]) == ["demo"]


def test_check_mode_writes_nothing_and_predicts_the_change(tmp_path, module_cache):
    out = tmp_path / "charts"
    predicted = _build(out, check=True)
    assert predicted["changed"] is True
    assert not out.exists()
    built = _build(out)
    # The prediction names the files and digests the build writes.
    assert [(c["file"], c["sha256"]) for c in predicted["charts"]] == [(c["file"], c["sha256"])
                                                                       for c in built["charts"]]
    assert _build(out, check=True)["changed"] is False
    (out / "stale-0.1.0.tgz").write_bytes(b"x")
    before = _snapshot(out)
    assert _build(out, check=True)["changed"] is True
    assert _snapshot(out) == before


def test_check_mode_downloads_nothing_and_counts_a_missing_module_as_a_change(tmp_path, monkeypatch):
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "empty-cache"))
    # A "go" that only records that it was asked.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "go").write_text("#!/bin/sh\necho \"$@\" >> %s\nexit 1\n" % (tmp_path / "go-calls"))
    (fake_bin / "go").chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (fake_bin, os.environ["PATH"]))
    result = _build(tmp_path / "charts", check=True)
    assert result["changed"] is True
    assert [(c["file"], c["sha256"]) for c in result["charts"]] == [
        (str(tmp_path / "charts" / "demo-1.2.3.tgz"), None), (str(tmp_path / "charts" / "other-0.2.0.tgz"), None)]
    assert not (tmp_path / "go-calls").exists()
    assert not (tmp_path / "charts").exists()
    # Outside check mode the same build would download (and here fails, naming the module).
    with pytest.raises(repository.ChartRepositoryError, match="add-on demo: .*go mod download %s failed" % KEY):
        _build(tmp_path / "charts")
    assert "mod download -json %s" % KEY in (tmp_path / "go-calls").read_text()


def test_without_download_a_missing_module_fails_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(repository.ChartRepositoryError) as error:
        _build(tmp_path / "charts", download=False)
    assert error.value.message.startswith("add-on demo: its chart source module is missing: Go module %s is not "
                                          "in the module cache" % KEY), error.value.message
    assert not (tmp_path / "charts").exists()


@pytest.mark.parametrize("names, bad", [(["demo", "nope"], "nope"), (["metrics_server"], "metrics_server"),
                                        ([""], "")])
def test_an_unknown_add_on_fails_naming_the_option_the_value_and_the_valid_names(tmp_path, module_cache, names,
                                                                                 bad):
    with pytest.raises(repository.ChartRepositoryError) as error:
        _build(tmp_path / "charts", names=names)
    assert error.value.message == "addons: %r is not an add-on of the catalog; valid names: demo, other" % bad
    assert not (tmp_path / "charts").exists()


def test_the_real_catalog_is_the_default_and_its_names_are_offered():
    assert repository.check_names(None) == catalog.install_order()
    assert repository.check_names(["metrics_server", "cilium"]) == ["cilium", "metrics_server"]
    with pytest.raises(repository.ChartRepositoryError, match=r"^addons: 'cillium' is not an add-on of the catalog; "
                                                              r"valid names: cilium, cert_manager, metrics_server$"):
        repository.check_names(["cillium"])
    with pytest.raises(repository.ChartRepositoryError, match="^addons: the list is empty"):
        repository.check_names([])


def test_a_module_that_does_not_hash_as_recorded_is_not_packaged(tmp_path, module_cache, monkeypatch):
    # The second add-on's module is another one, changed after its hash was recorded.
    second = tmp_path / "second-module"
    (second / "chart").mkdir(parents=True)
    (second / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: other\nversion: 0.2.0\n")
    monkeypatch.setitem(artifacts.GO_MODULES, "example.com/second@v2.0.0",
                        {"h1": artifacts.go_dirhash(str(second), "example.com/second", "v2.0.0"), "source": "test"})
    (second / "chart" / "values.yaml").write_text("injected: true\n")
    catalog_entries = dict(CATALOG, other={"chart": "other", "order": 20, "source": {
        "module": "example.com/second", "version": "v2.0.0", "path": "chart", "chart_version": "0.2.0",
        "app_version": None}})
    locations = {KEY: str(module_cache), "example.com/second@v2.0.0": str(second)}
    out = tmp_path / "charts"
    with pytest.raises(repository.ChartRepositoryError) as error:
        _build(out, catalog=catalog_entries, locate=lambda module, version: locations["%s@%s" % (module, version)])
    message = error.value.message
    assert message.startswith("add-on other: the chart source module example.com/second@v2.0.0 failed "
                              "verification, so no chart is packaged"), message
    assert "expected %s" % artifacts.GO_MODULES["example.com/second@v2.0.0"]["h1"] in message
    # The first add-on's module was fine, but nothing was written.
    assert not out.exists()


def test_a_chart_named_otherwise_than_the_catalog_says_is_refused(tmp_path, module_cache, monkeypatch):
    monkeypatch.setitem(CATALOG["other"], "chart", "another")
    with pytest.raises(repository.ChartRepositoryError, match="add-on other: the chart in .* is named other, "
                                                              "the catalog says another"):
        _build(tmp_path / "charts")


@pytest.mark.parametrize("address, listen, url", [
    ("127.0.0.1:8879", ("127.0.0.1", 8879), "http://127.0.0.1:8879"),
    ("0.0.0.0:8080", ("0.0.0.0", 8080), "http://127.0.0.1:8080"),
    ("[::1]:8879", ("::1", 8879), "http://[::1]:8879"),
    ("[::]:8879", ("::", 8879), "http://[::1]:8879"),
    ("10.1.2.3:80", ("10.1.2.3", 80), "http://10.1.2.3:80")])
def test_a_listen_address_is_an_ip_address_and_a_port(tmp_path, address, listen, url):
    server = repository.ChartRepositoryServer(str(tmp_path / "repo"), address, RUNNER, python="/usr/bin/python3")
    assert (server.host, server.port, server.url) == listen + (url,)
    assert server.argv == ["/usr/bin/python3", "-m", "http.server", "--bind", listen[0], "--directory",
                           str(tmp_path / "repo" / "charts"), str(listen[1])]
    assert server.access_log == str(tmp_path / "repo" / "chart-repository.log")


@pytest.mark.parametrize("address", ["localhost:8879", "127.0.0.1", "http://127.0.0.1:8879", "127.0.0.1:0",
                                     "::1:8879", "[127.0.0.1]:8879", "127.0.0.1:8879/charts", "300.1.1.1:80"])
def test_a_bad_listen_address_fails_naming_the_option(tmp_path, address):
    with pytest.raises(repository.ChartRepositoryError) as error:
        repository.ChartRepositoryServer(str(tmp_path / "repo"), address, RUNNER)
    assert error.value.message.startswith("address: %r " % address), error.value.message
    assert "e.g. 127.0.0.1:8879 (loopback, the default)" in error.value.message
    assert not (tmp_path / "repo").exists()


def _free_port():
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
    finally:
        sock.close()


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status, answer.read()


def test_the_server_serves_the_index_and_the_packages_and_stops(tmp_path, module_cache):
    port = _free_port()
    server = repository.ChartRepositoryServer(str(tmp_path / "repo"), "127.0.0.1:%d" % port, RUNNER)
    server.prepare()
    assert oct(os.stat(server.state_dir).st_mode & 0o777) == "0o700"
    assert oct(os.stat(server.charts_dir).st_mode & 0o777) == "0o755"
    built = _build(server.charts_dir)
    try:
        assert server.start(timeout=30) == {"changed": True}
        record = server.running()
        assert record and record["argv_live"] == server.argv
        status, index = _get(server.url + "/index.yaml")
        assert status == 200 and index == (tmp_path / "repo" / "charts" / "index.yaml").read_bytes()
        status, package = _get(server.url + "/demo-1.2.3.tgz")
        assert status == 200 and hashlib.sha256(package).hexdigest() == built["charts"][0]["sha256"]
        with open(server.access_log) as handle:
            log = handle.read()
        assert '"GET /index.yaml HTTP/1.1" 200' in log and '"GET /demo-1.2.3.tgz HTTP/1.1" 200' in log
        # Running with this configuration: nothing to do; another address from the same directory: refused.
        assert server.start(timeout=30) == {"changed": False}
        assert server.running()["pid"] == record["pid"]
        other = repository.ChartRepositoryServer(str(tmp_path / "repo"), "127.0.0.1:%d" % _free_port(), RUNNER)
        with pytest.raises(repository.ChartRepositoryError, match="runs with another configuration .* stop it first"):
            other.start(timeout=30)
        # A stop goes by the state directory's pid record, whatever the address.
        assert other.stop(timeout=10) is True
    finally:
        server.stop(timeout=10)
    assert process.proc_starttime(record["pid"]) is None
    assert server.running() is None and not os.path.exists(server.supervisor.pid_file("chart-repository"))
    assert server.stop(timeout=10) is False
    with pytest.raises(urllib.request.URLError):
        _get(server.url + "/index.yaml")


def test_a_server_that_cannot_listen_fails_with_its_log(tmp_path):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    try:
        server = repository.ChartRepositoryServer(str(tmp_path / "repo"), "127.0.0.1:%d" % blocker.getsockname()[1],
                                                  RUNNER)
        with pytest.raises(repository.ChartRepositoryError) as error:
            server.start(timeout=10)
        assert "exited during start" in str(error.value) and "Address already in use" in str(error.value)
    finally:
        blocker.close()


def test_a_process_counts_as_exited_only_when_all_its_threads_have():
    me = os.getpid()
    assert process.threads_exited(me, process.proc_starttime(me)) is False
    # The pid of another process (another start time), or no process at all.
    assert process.threads_exited(me, process.proc_starttime(me) + 1) is True
    assert process.threads_exited(2 ** 22 + 1, 1) is True
