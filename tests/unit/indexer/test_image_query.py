"""Single 2-D image queries: reading PNG/JPEG/DICOM, the slice as a thin study in the
canonical orientation, the box as the tumour, and the embedding of one crop."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from dicom_conversion import MRSequence
from indexer.image_query import (
    ImageQuery,
    ImageQueryError,
    embed_image,
    pixel_size,
    read_image,
    slice_study,
)
from indexer.pipeline import load_models


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _picture() -> np.ndarray:
    """A grey disc ('head') with a bright blob at the top left of the display."""
    rows, cols = np.indices((120, 120))
    image = np.where((rows - 60) ** 2 + (cols - 60) ** 2 < 55**2, 100.0, 0.0)
    image[(rows - 35) ** 2 + (cols - 40) ** 2 < 10**2] = 250.0
    return image


def test_png_and_dicom_are_read_with_their_pixel_size() -> None:
    pixels, spacing = read_image(_png(_picture()))
    assert pixels.shape == (120, 120) and spacing is None
    assert pixel_size(pixels, spacing) == (2.0, 2.0)  # 240 mm across the larger side
    data = Path(str(get_testdata_file("MR_small.dcm"))).read_bytes()
    pixels, spacing = read_image(data)
    assert pixels.shape == (64, 64) and spacing is not None and min(spacing) > 0
    with pytest.raises(ImageQueryError, match="neither"):
        read_image(b"not an image at all")


def test_slice_becomes_a_canonical_study_with_the_box_as_tumour() -> None:
    query = ImageQuery(_picture(), (2.0, 2.0), MRSequence.FLAIR, box=(25, 30, 45, 50))
    study, mask = slice_study(query)
    volume = study.arrays[MRSequence.FLAIR]
    assert list(study.arrays) == [MRSequence.FLAIR] and volume.shape[2] == 3
    # Display top left = anterior and the patient's right: high x (R) and high y (A).
    x, y, _ = np.unravel_index(np.argmax(volume), volume.shape)
    assert x > 60 and y > 60
    # The box (rows 25-45, columns 30-50) is the tumour, on every slice.
    xs, ys, zs = np.nonzero(mask)
    assert set(zs) == {0, 1, 2}
    assert xs.min() == 120 - 50 and xs.max() == 120 - 31
    assert ys.min() == 120 - 45 and ys.max() == 120 - 26
    assert np.allclose(np.diag(study.affine)[:3], 2.0)


def test_bad_boxes_and_images_are_refused() -> None:
    with pytest.raises(ImageQueryError, match="box"):
        slice_study(ImageQuery(_picture(), (1.0, 1.0), box=(200, 200, 300, 300)))
    with pytest.raises(ImageQueryError, match="2-D"):
        slice_study(ImageQuery(np.zeros((4, 4)), (1.0, 1.0)))


def test_one_crop_is_embedded_and_the_box_matters() -> None:
    models = load_models()
    centred = embed_image(ImageQuery(_picture(), (2.0, 2.0), box=(25, 30, 45, 50)), models)
    again = embed_image(ImageQuery(_picture(), (2.0, 2.0), box=(25, 30, 45, 50)), models)
    whole = embed_image(ImageQuery(_picture(), (2.0, 2.0)), models)
    assert centred.shape == (models.embedder.dim,)
    assert np.linalg.norm(centred) == pytest.approx(1.0, abs=1e-5)
    assert np.array_equal(centred, again)
    assert float(centred @ whole) < 0.9999
