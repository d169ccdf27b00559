"""Pictures of a case: three planes through the tumour, radiological orientation, one
physical scale, and the tumour outline on the same pixels."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from indexer.case_images import MM_PER_PIXEL, PLANES, case_images, outline_rgba
from indexer.thumbnails import THUMBNAIL_SIZE, tumour_slice_outline
from tests.unit.models.toy_studies import toy_study

# Patient right (+x in RAS), anterior (+y) and superior (+z) of the head's centre (60 mm).
CENTRE_MM = (80.0, 78.0, 80.0)


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def _centroid(rgba: np.ndarray) -> tuple[float, float]:
    rows, cols = np.nonzero(rgba[..., 3])
    return rows.mean() / rgba.shape[0], cols.mean() / rgba.shape[1]


def test_planes_are_radiological_at_one_scale() -> None:
    study = toy_study(tumour_centre_mm=CENTRE_MM, tumour_radius_mm=8.0)
    assert study.mask is not None
    images = case_images(study, study.mask)
    assert set(images.outline) == set(PLANES)
    # Each plane cuts through the tumour's largest cross-section (its centre, in voxels).
    assert images.slices == pytest.approx(
        {"axial": CENTRE_MM[2] / 2, "coronal": CENTRE_MM[1] / 2, "sagittal": CENTRE_MM[0] / 2},
        abs=1,
    )
    axial = _centroid(_png(images.outline["axial"]))
    coronal = _centroid(_png(images.outline["coronal"]))
    sagittal = _centroid(_png(images.outline["sagittal"]))
    # Axial: anterior at the top, patient right on the viewer's left.
    assert axial[0] < 0.5 and axial[1] < 0.5
    # Coronal: superior at the top, patient right on the viewer's left.
    assert coronal[0] < 0.5 and coronal[1] < 0.5
    # Sagittal: superior at the top, anterior on the left.
    assert sagittal[0] < 0.5 and sagittal[1] < 0.5
    # One physical scale: the head (108 mm wide, plus a 3-voxel margin) at MM_PER_PIXEL.
    grey = _png(images.grey["axial"]["T1C"])
    assert grey.dtype == np.uint8 and grey.ndim == 2
    assert grey.shape == _png(images.outline["axial"]).shape[:2]
    assert grey.shape[1] == pytest.approx(120 / MM_PER_PIXEL, rel=0.12)
    # The core's outline (red) runs along the enhancing rim, bright on the T1C plane.
    outline = _png(images.outline["axial"])
    red = np.all(outline == (255, 48, 48, 255), axis=-1)
    assert red.any() and grey[red].mean() > grey[grey > 0].mean() + 20


def test_every_sequence_is_drawn_and_json_has_data_uris() -> None:
    study = toy_study(missing=("T2",))
    assert study.mask is not None
    data = case_images(study, study.mask).to_json()
    for plane in PLANES:
        assert set(data["planes"][plane]["sequences"]) == {"T1", "T1C", "FLAIR"}
        assert data["planes"][plane]["outline"].startswith("data:image/png;base64,")


def test_outline_colours_whole_tumour_and_core() -> None:
    labels = np.zeros((20, 20), dtype=np.uint8)
    labels[4:16, 4:16] = 2
    labels[8:12, 8:12] = 3
    rgba = outline_rgba(labels)
    yellow = np.all(rgba == (255, 214, 0, 255), axis=-1)
    red = np.all(rgba == (255, 48, 48, 255), axis=-1)
    assert yellow[4, 4:16].all() and yellow[15, 4:16].all() and not yellow[5:15, 5:15].any()
    assert red[8, 8:12].all() and not red[9:11, 9:11].any()
    assert rgba[0, 0, 3] == 0


def test_thumbnail_outline_matches_the_thumbnail_crop() -> None:
    study = toy_study(tumour_centre_mm=CENTRE_MM)
    assert study.mask is not None
    outline = tumour_slice_outline(study, study.mask)
    assert outline.shape == (THUMBNAIL_SIZE, THUMBNAIL_SIZE, 4)
    rows, cols = np.nonzero(outline[..., 3])
    # The crop is centred on the lesion.
    assert rows.mean() == pytest.approx(THUMBNAIL_SIZE / 2, abs=12)
    assert cols.mean() == pytest.approx(THUMBNAIL_SIZE / 2, abs=12)


def test_mask_of_another_grid_is_refused() -> None:
    study = toy_study()
    with pytest.raises(ValueError, match="Argument 'mask'"):
        case_images(study, np.zeros((3, 3, 3), dtype=np.uint8))
