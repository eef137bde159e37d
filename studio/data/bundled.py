"""Small classic datasets that ship inside scikit-learn (nothing to download)."""

from __future__ import annotations

from typing import Any

from studio.core.params import params
from studio.data.assemble import split_and_assemble
from studio.data.base import DatasetInfo, DatasetSpec, LoadContext, LoadedData
from studio.data.registry import register
from studio.data.settings import SPLIT_SETTINGS

_SETTINGS = params(SPLIT_SETTINGS)


def _load_digits(settings: dict[str, Any], _context: LoadContext) -> LoadedData:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = bunch.data.reshape(-1, 1, 8, 8) / 16.0  # pixel values 0..16 in the source
    info = DatasetInfo(name="digits", input_shape=(1, 8, 8), task="classification",
                       class_names=[str(c) for c in bunch.target_names], num_outputs=10,
                       sample_kind="image", source="scikit-learn")
    return split_and_assemble(x, bunch.target, info, settings)


def _table_loader(name: str, sklearn_function: str):
    """A loader for one of scikit-learn's bundled tables: rows of features, standardised."""

    def load(settings: dict[str, Any], _context: LoadContext) -> LoadedData:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, sklearn_function)()
        class_names = [str(c) for c in bunch.target_names]
        info = DatasetInfo(name=name, input_shape=(bunch.data.shape[1],), task="classification",
                           class_names=class_names, num_outputs=len(class_names), sample_kind="row",
                           feature_names=[str(f) for f in bunch.feature_names], source="scikit-learn")
        return split_and_assemble(bunch.data, bunch.target, info, settings, standardise_features=True)

    return load


register(DatasetSpec(
    name="digits", title="Digits (8x8)", category="built-in",
    description="1,797 handwritten digits as 1x8x8 images, 10 classes (scikit-learn).",
    settings=_SETTINGS, loader=_load_digits))

for _name, _title, _function, _description in (
    ("iris", "Iris", "load_iris", "150 iris flowers, 4 measurements, 3 species (scikit-learn)."),
    ("wine", "Wine", "load_wine", "178 wines, 13 chemical measurements, 3 cultivars (scikit-learn)."),
    ("breast_cancer", "Breast cancer", "load_breast_cancer",
     "569 tumours, 30 measurements, malignant or benign (scikit-learn)."),
):
    register(DatasetSpec(name=_name, title=_title, category="built-in", description=_description,
                         settings=_SETTINGS, loader=_table_loader(_name, _function)))
