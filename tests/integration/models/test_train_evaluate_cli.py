"""``simcase train`` and ``simcase evaluate`` end to end on a tiny BraTS-layout folder."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dicom_conversion import write_brats_case
from models import OnnxEmbedder, OnnxSegmenter, load_card
from plugin.cli import app
from tests.unit.models.toy_studies import toy_study

pytestmark = [pytest.mark.integration, pytest.mark.slow]

runner = CliRunner()

KINDS = {
    "glioma": {"kind": "ring", "tumour_radius_mm": 14.0},
    "meningioma": {"kind": "solid", "tumour_radius_mm": 10.0},
    "metastasis": {"kind": "ring", "tumour_radius_mm": 6.0},
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    rows = []
    for index in range(9):
        diagnosis = list(KINDS)[index % 3]
        study = toy_study(
            spacing=3.0,
            seed=index,
            tumour_centre_mm=(45.0 + 4 * index, 55.0, 60.0),
            **KINDS[diagnosis],  # type: ignore[arg-type]
        )
        case_id = f"TOY-{index:03d}"
        write_brats_case(study, root, case_id)
        rows.append({"case_id": case_id, "diagnosis": diagnosis, "patient_id": f"P{index}"})
    with (root / "cases.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["case_id", "diagnosis", "patient_id"])
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_train_both_models_then_evaluate(corpus: Path, tmp_path: Path) -> None:
    weights = tmp_path / "weights"
    for what, extra in (("embedder", []), ("segmenter", ["--max-cases", "2"])):
        result = runner.invoke(
            app,
            ["train", what, "--data", str(corpus), "--out", str(weights), "--epochs", "1", *extra],
        )
        assert result.exit_code == 0, result.output
        card = load_card(weights, what)
        assert card.model_version in result.output
        assert (weights / f"{what}.md").read_text().count(card.onnx_sha256) == 1
    assert OnnxEmbedder.load(weights).dim == 128
    assert OnnxSegmenter.load(weights).model_version.startswith("segmenter-")

    plot = tmp_path / "tsne.png"
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--data",
            str(corpus),
            "--model-dir",
            str(weights),
            "--json",
            "--plot",
            str(plot),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"model_version", "n_cases", "metrics", "baselines", "segmentation"}
    assert data["n_cases"] == 9
    assert data["model_version"] == load_card(weights, "embedder").model_version
    metrics = data["metrics"]
    for key in ("map_at_r", "p_at_1", "p_at_5", "p_at_10"):
        assert 0.0 <= metrics[key] <= 1.0
    assert set(metrics["per_diagnosis"]) == set(KINDS)
    assert "median_volume_log_ratio_top5" in metrics["morphology"]
    assert "median_centroid_mm_top5" in metrics["morphology"]
    assert set(data["baselines"]) == {
        "raw_pixel_pca",
        "lesion_facts",
        "measured_signs",
        "intensity_histograms",
        "untrained_network",
    }
    assert set(data["baselines"]["lesion_facts"]) == {"map_at_r", "p_at_5"}
    assert 0.0 <= data["segmentation"]["dice_whole_tumour"] <= 1.0
    assert plot.stat().st_size > 1000


def test_evaluate_with_given_masks_needs_no_segmenter(corpus: Path, tmp_path: Path) -> None:
    weights = tmp_path / "weights"
    result = runner.invoke(
        app, ["train", "embedder", "--data", str(corpus), "--out", str(weights), "--epochs", "1"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app,
        ["evaluate", "--data", str(corpus), "--model-dir", str(weights), "--use-given-masks"],
    )
    assert result.exit_code == 0, result.output
    assert "mAP@R" in result.output


def test_evaluate_names_a_missing_weights_folder(corpus: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["evaluate", "--data", str(corpus), "--model-dir", str(tmp_path / "none")]
    )
    assert result.exit_code == 1
    assert "no embedder weights" in result.output


def test_train_names_a_missing_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "embedder", "--data", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_train_both_from_a_generator_writes_loadable_weights_with_cards(tmp_path: Path) -> None:
    out = tmp_path / "weights"
    result = runner.invoke(
        app,
        [
            "train",
            "both",
            "--generator",
            "a",
            "--cases",
            "6",
            "--epochs",
            "1",
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    for name in ("segmenter", "embedder"):
        card = load_card(out, name)  # the sha256 of the ONNX weights matches the card
        assert card.training["data"]["generator"] == "a"
        assert card.training["data"]["cases"] == 6
        assert len(card.training["data"]["crops_sha256"]) == 64
        assert card.training["hardware"]
    recipe = json.loads((out / "both-work" / "recipe.json").read_text())
    assert recipe["embedder"]["config"]["randomised_share"] > 0
    assert set(recipe["segmenter"]["valid_dice_whole_tumour"]) == {"a", "b"}
    assert OnnxEmbedder.load(out).dim == 128
    OnnxSegmenter.load(out)
