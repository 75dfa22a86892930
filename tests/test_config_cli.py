"""``python -m chalicelib config export|diff|import`` on moto (issue 22): the TOML files stay the import and export
format of the live configuration."""

from __future__ import annotations

import tomllib

from chalicelib.__main__ import main
from chalicelib.config_loader import read_raw


def test_export_diff_import_round_trip(aws, tmp_path, capsys):
    folder = tmp_path / "config"
    assert main(["config", "export", str(folder)]) == 0
    assert "version 1 written" in capsys.readouterr().out
    assert {f.name for f in folder.iterdir()} == {"sites.toml", "rules.toml", "replies.toml", "routing.toml"}
    assert {s: tomllib.loads((folder / f"{s}.toml").read_text()) for s in ("sites", "rules", "replies", "routing")
            } == read_raw()  # the shipped files, as data
    assert main(["config", "diff", str(folder)]) == 0
    assert "0 change(s) against version 1" in capsys.readouterr().out
    sites = folder / "sites.toml"
    assert sites.read_text().count('"+447700900801"') == 1  # line 8's driver
    sites.write_text(sites.read_text().replace('"+447700900801"', '"+447700900812"'))
    assert main(["config", "diff", str(folder)]) == 1
    out = capsys.readouterr().out
    assert '"old": "+447700900801", "new": "+447700900812"' in out and "1 change(s)" in out
    assert main(["config", "import", str(folder), "--by", "Marie", "--comment", "driver's phone"]) == 0
    assert "sites: version 2 (1 change(s))" in capsys.readouterr().out
    assert main(["config", "import", str(folder)]) == 0
    assert "nothing to import: version 2" in capsys.readouterr().out
    again = tmp_path / "again"
    assert main(["config", "export", str(again)]) == 0
    assert "+447700900812" in (again / "sites.toml").read_text()


def test_an_invalid_file_is_not_imported_and_says_where(aws, tmp_path, capsys):
    folder = tmp_path / "config"
    main(["config", "export", str(folder)])
    sites = folder / "sites.toml"
    sites.write_text(sites.read_text().replace('timezone = "Europe/London"', 'timezone = "Europe/Atlantis"', 1))
    assert main(["config", "import", str(folder)]) == 2
    assert "].timezone: unknown time zone 'Europe/Atlantis'" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    assert main(["config", "diff", str(broken)]) == 2
    assert "sites.toml" in capsys.readouterr().err


def test_without_a_table_the_cli_says_so(monkeypatch):
    import pytest

    monkeypatch.delenv("TABLE_NAME", raising=False)
    with pytest.raises(SystemExit) as stopped:
        main(["config", "export", "/nowhere"])
    assert "TABLE_NAME is not set" in str(stopped.value)
