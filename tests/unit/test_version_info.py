"""Version, commit and build date (SPEC §8): a built package's `_build_info.json`, else git in
a checkout, else "unknown"; and where the dashboard bundle is looked for."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pipelogiq import __version__
from pipelogiq.cli import main
from pipelogiq.http import spa
from pipelogiq.version import read_version_info


def test_a_built_package_reads_its_build_info(tmp_path: Path) -> None:
    package = tmp_path / "pipelogiq"
    package.mkdir()
    (package / "_build_info.json").write_text(
        json.dumps({"commit": "c0ffee" * 6 + "beef", "buildDate": "2026-01-02T03:04:05Z"}))
    assert read_version_info(package) == {
        "version": __version__, "commit": "c0ffee" * 6 + "beef",
        "buildDate": "2026-01-02T03:04:05Z"}


def test_without_build_info_or_git_everything_but_the_version_is_unknown(tmp_path: Path) -> None:
    package = tmp_path / "site-packages" / "pipelogiq"
    package.mkdir(parents=True)
    (package / "_build_info.json").write_text("not json")  # a damaged file is no answer
    assert read_version_info(package) == {
        "version": __version__, "commit": "unknown", "buildDate": "unknown"}


def test_a_checkout_without_build_info_asks_git() -> None:
    package = Path(__file__).resolve().parents[2] / "pipelogiq"
    if (package / "_build_info.json").exists() or not (package.parent / ".git").exists():
        pytest.skip("not a plain checkout")
    head = subprocess.run(["git", "-C", str(package.parent), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    info = read_version_info(package)
    assert info["commit"] == head and info["buildDate"][:2] == "20"


def test_cli_version_prints_version_commit_and_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"pipelogiq {__version__} (commit ") and ", built " in out


def test_the_bundle_is_the_override_then_the_packaged_copy_then_ui_dist(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    packaged, checkout = tmp_path / "_ui", tmp_path / "ui" / "dist"
    monkeypatch.setattr(spa, "PACKAGED_DIST", packaged)
    monkeypatch.setattr(spa, "DEFAULT_DIST", checkout)
    monkeypatch.delenv(spa.ENV_DIST, raising=False)
    assert spa.dist_dir() == checkout  # a checkout: no packaged copy
    packaged.mkdir()
    assert spa.dist_dir() == checkout  # an empty folder is not a bundle
    (packaged / "index.html").write_text("<!doctype html>")
    assert spa.dist_dir() == packaged
    monkeypatch.setenv(spa.ENV_DIST, str(tmp_path / "elsewhere"))
    assert spa.dist_dir() == tmp_path / "elsewhere"
