"""Presets and drugs from the user's own folder, and adding a drug on the command line
(docs/configuration.md "Your own presets", "Adding a drug"): the three ways to name a folder
(``--config-dir``/``-cd``, ``hydra.searchpath``, ``$LATTICE_CONFIG_PATH``) give the same config, a
user preset runs end to end, and a drug added with ``+drug@treatment.drugs.NAME=KIND`` is a real
drug of the model (its own field, given from t = 0)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from lattice import cli
from tests.conftest import build_model, build_params

TINY = ["grid.shape=[16,16]", "duration_h=2", "output.every_h=1", "output.progress=false", "backend=numpy"]


@pytest.fixture
def user_conf(tmp_path) -> Path:
    """A folder of user presets: a treatment, an experiment, a drug and a clash with a package name."""
    conf = tmp_path / "myconf"
    (conf / "treatment").mkdir(parents=True)
    (conf / "experiment").mkdir()
    (conf / "drug").mkdir()
    (conf / "treatment" / "mine.yaml").write_text(
        "name: mine\ndrugs:\n  primary:\n    dose_uM: 3.5\n    schedule:\n      kind: intermittent\n      on_h: 48\n")
    (conf / "treatment" / "continuous.yaml").write_text("name: shadowed\n")
    (conf / "experiment" / "my_dish.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /treatment: mine\ngrid:\n  shape: [20, 20]\n"
        "treatment:\n  delivery: bath\n")
    (conf / "drug" / "my_hdaci.yaml").write_text("kind: epigenetic\nkill_rate_per_h: 0.07\nschedule:\n  kind: continuous\n")
    return conf


def show_config(args: list[str], cwd: Path, monkeypatch, capsys) -> dict:
    """``lattice-run --cfg job ARGS`` in this process: the composed config as a dict."""
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["lattice-run"])
    capsys.readouterr()
    cli.main(["--cfg", "job", *args])
    captured = capsys.readouterr()
    assert "error" not in captured.err, captured.err
    return yaml.safe_load(captured.out)


@pytest.mark.parametrize("how", ["--config-dir", "-cd", "hydra.searchpath", "LATTICE_CONFIG_PATH"])
def test_every_way_of_naming_the_folder_finds_the_user_preset(user_conf, tmp_path, monkeypatch, capsys, how):
    if how == "--config-dir":
        args = [f"--config-dir={user_conf}"]
    elif how == "-cd":
        args = ["-cd", str(user_conf)]
    elif how == "hydra.searchpath":
        args = [f"hydra.searchpath=[file://{user_conf}]"]
    else:
        monkeypatch.setenv("LATTICE_CONFIG_PATH", str(user_conf))
        args = []
    cfg = show_config([*args, "treatment=mine"], tmp_path, monkeypatch, capsys)
    primary = cfg["treatment"]["drugs"]["primary"]
    assert cfg["treatment"]["name"] == "mine"
    assert primary["dose_uM"] == 3.5 and primary["schedule"]["kind"] == "intermittent"
    assert primary["schedule"]["on_h"] == 48
    assert primary["half_life_h"] == 36.2, "keys the preset does not set keep the schema's value"


def test_package_presets_are_not_shadowed_by_user_ones(user_conf, tmp_path, monkeypatch, capsys):
    """The user's folders come after the package's conf/: a name that exists in both is the
    package's (docs/configuration.md), so a stray file cannot change a documented preset."""
    cfg = show_config([f"--config-dir={user_conf}", "treatment=continuous"], tmp_path, monkeypatch, capsys)
    assert cfg["treatment"]["name"] == "continuous"


def test_user_experiment_overrides_a_group_with_a_user_preset(user_conf, tmp_path, monkeypatch, capsys):
    cfg = show_config([f"--config-dir={user_conf}", "experiment=my_dish"], tmp_path, monkeypatch, capsys)
    assert cfg["grid"]["shape"] == [20, 20]
    assert cfg["treatment"]["name"] == "mine" and cfg["treatment"]["delivery"] == "bath"


def test_user_drug_preset_is_added_under_a_new_name(user_conf, tmp_path, monkeypatch, capsys):
    cfg = show_config([f"--config-dir={user_conf}", "treatment=continuous",
                       "+drug@treatment.drugs.hdaci=my_hdaci"], tmp_path, monkeypatch, capsys)
    drugs = cfg["treatment"]["drugs"]
    assert set(drugs) == {"primary", "hdaci"}
    assert drugs["hdaci"]["kind"] == "epigenetic" and drugs["hdaci"]["kill_rate_per_h"] == 0.07
    assert drugs["hdaci"]["entry_block"] == 0.95, "unset keys come from the drug schema"


def test_user_preset_runs_end_to_end(user_conf, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "lattice.cli", f"--config-dir={user_conf}", "treatment=mine", *TINY,
                           f"hydra.run.dir={run}"], check=False, cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    saved = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
    assert saved["treatment"]["name"] == "mine" and saved["treatment"]["drugs"]["primary"]["dose_uM"] == 3.5
    assert (run / "summary.h5").exists()
    assert not (run / "cli.log").exists(), "no empty log file in the run directory"


def test_drug_added_on_the_command_line_is_a_real_drug():
    """``+drug@treatment.drugs.second=cytotoxic`` adds a second drug next to the preset's one:
    its own field, its values settable on the same line, given from t = 0 (it reaches the
    tissue from the vessels within the first step)."""
    args = ("treatment=continuous", "+drug@treatment.drugs.second=cytotoxic", "treatment.drugs.second.dose_uM=2",
            "grid.shape=[40,40]", "duration_h=2")
    params = build_params(*args)
    second = params.treatment.drugs["second"]
    assert set(params.treatment.drugs) == {"primary", "second"}
    assert second.kind == "cytotoxic" and second.dose_uM == 2.0 and second.schedule.kind == "continuous"
    assert params.treatment.drugs["primary"].kind == "targeted"
    model = build_model(*args)
    assert "drug_second" in model.registry.names
    state = model.step(model.initial_state())
    field = model.backend.asnumpy(state.fields)[0, model.registry.index("drug_second")]
    assert np.isfinite(field).all() and field.max() > 0


def test_drug_added_without_a_treatment_preset():
    """Adding a drug to the untreated default gives a one-drug treatment."""
    params = build_params("+drug@treatment.drugs.chemo=cytotoxic", "treatment.drugs.chemo.emax=0.5")
    assert list(params.treatment.drugs) == ["chemo"]
    assert params.treatment.drugs["chemo"].emax == 0.5
