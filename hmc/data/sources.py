"""Every data file the study can use: where it lives under a data root, where to download it, and
how to check it.

:data:`SOURCES` maps a dataset name to its files (:class:`RemoteFile`); :data:`INFO` gives each
dataset a one-line description and its source, for ``python -m hmc data status``. A file's
``relpath`` is relative to a data root (see :mod:`hmc.data.paths`).

The 20 HMC benchmarks are the ``HMC_data/`` folder of the C-HMCNN repository at a pinned commit;
their sizes and md5 sums are transcribed from ``hmc_datasets/README.md`` of the project's data
folder. ``expr_GO.train.arff`` has no known md5: it is checked by the git blob hash that C-HMCNN's
tree records for it. FGVC-Aircraft has no published checksum, so it cannot be verified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

CHECKSUM_KINDS = {"md5": 32, "sha256": 64, "gitblob": 40}
"""Supported checksum kinds and the length of their hex digest. ``gitblob`` is git's blob hash:
sha1 of ``b"blob <size>\\0"`` followed by the content (what ``git hash-object`` prints)."""


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable data file.

    ``relpath``: POSIX path relative to a data root; ``url``: where to download it; ``size``: its
    length in bytes, or None when unknown; ``checksum``: ``"<kind>:<hex digest>"`` with kind in
    :data:`CHECKSUM_KINDS`, or None when no checksum is published.
    """

    relpath: str
    url: str
    size: int | None
    checksum: str | None

    def __post_init__(self):
        if self.checksum is not None:
            kind, _, digest = self.checksum.partition(":")
            if CHECKSUM_KINDS.get(kind) != len(digest) or not re.fullmatch("[0-9a-f]+", digest):
                raise ValueError(f"{self.relpath}: malformed checksum {self.checksum!r}; expected "
                                 f"'<kind>:<lowercase hex>' with kind one of {sorted(CHECKSUM_KINDS)}")

    @property
    def name(self) -> str:
        """The file name (last component of ``relpath``)."""
        return PurePosixPath(self.relpath).name


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset is (one line) and where it comes from (short citation)."""

    description: str
    source: str


CHMCNN_COMMIT = "e887855ab4b3b8f22e4fafc80a0a33c1d1ac0041"
"""The C-HMCNN snapshot (2022-07-02) whose ``HMC_data/`` folder the benchmark files come from."""

OMNIGLOT_NPZ_COMMIT = "b0481240b7eb42393285a93ce7d2f266ff10c62b"
"""The bitsandscraps/omniglot commit that holds the Omniglot npz files."""

_CHMCNN_RAW = f"https://raw.githubusercontent.com/EGiunchiglia/C-HMCNN/{CHMCNN_COMMIT}/HMC_data/"
_OMNIGLOT_NPZ_RAW = f"https://raw.githubusercontent.com/bitsandscraps/omniglot/{OMNIGLOT_NPZ_COMMIT}/"
_OMNIGLOT_ZIP_RAW = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python/"

# (path under HMC_data/, bytes, checksum) per benchmark, train/valid/test order; transcribed from
# hmc_datasets/README.md. church_FUN, pheno_FUN and pheno_GO are in that folder but not in the study.
_BENCHMARK_FILES: dict[str, tuple[tuple[str, int | None, str], ...]] = {
    "cellcycle_FUN": (
        ("datasets_FUN/cellcycle_FUN/cellcycle_FUN.train.arff", 705761, "md5:1412634252ce00c6a7bcec0c51d1f6d8"),
        ("datasets_FUN/cellcycle_FUN/cellcycle_FUN.valid.arff", 373560, "md5:5eb9a3fa028223c60bfdf7d4fe938d4d"),
        ("datasets_FUN/cellcycle_FUN/cellcycle_FUN.test.arff", 560351, "md5:ca6033b33944e63d1da05a6a98cbc5a9"),
    ),
    "derisi_FUN": (
        ("datasets_FUN/derisi_FUN/derisi_FUN.train.arff", 522144, "md5:3ae85bb6d35dad83bc5412f41203f0d1"),
        ("datasets_FUN/derisi_FUN/derisi_FUN.valid.arff", 276855, "md5:90b1d332e25139b5dbf67926146be6ff"),
        ("datasets_FUN/derisi_FUN/derisi_FUN.test.arff", 417053, "md5:4b800091e614b438669ee5de712ff8f1"),
    ),
    "eisen_FUN": (
        ("datasets_FUN/eisen_FUN/eisen_FUN.train.arff", 496392, "md5:65db4fbc06a8568ee3f8d5e2e9da87b9"),
        ("datasets_FUN/eisen_FUN/eisen_FUN.valid.arff", 252211, "md5:4437941fb53a8330515d9d11ea66a013"),
        ("datasets_FUN/eisen_FUN/eisen_FUN.test.arff", 394313, "md5:5bdb8a0bd0bfd4bae14cf0fa7454e56d"),
    ),
    "expr_FUN": (
        ("datasets_FUN/expr_FUN/expr_FUN.train.arff", 4494464, "md5:052ab28152c6a8c8d52f016e760dd12d"),
        ("datasets_FUN/expr_FUN/expr_FUN.valid.arff", 2351441, "md5:b88e0f9f2cee6f80a331a049eec58aa2"),
        ("datasets_FUN/expr_FUN/expr_FUN.test.arff", 3552821, "md5:755e2636d130117caa2e1a03c793ebcd"),
    ),
    "gasch1_FUN": (
        ("datasets_FUN/gasch1_FUN/gasch1_FUN.train.arff", 1557060, "md5:0ea560e56970bd72b0aefe1b876fe9e0"),
        ("datasets_FUN/gasch1_FUN/gasch1_FUN.valid.arff", 813474, "md5:9db9b74a99292c413de61eb92780005a"),
        ("datasets_FUN/gasch1_FUN/gasch1_FUN.test.arff", 1227356, "md5:7fe115760f8be9b3c7c2ca032952c954"),
    ),
    "gasch2_FUN": (
        ("datasets_FUN/gasch2_FUN/gasch2_FUN.train.arff", 574169, "md5:65a263bc599d303d41a5a4cf87490e0c"),
        ("datasets_FUN/gasch2_FUN/gasch2_FUN.valid.arff", 301142, "md5:42e6f14be57cec282f26aeae9641ae90"),
        ("datasets_FUN/gasch2_FUN/gasch2_FUN.test.arff", 453510, "md5:c9e835a793d40154ffe43ccc4aadf231"),
    ),
    "seq_FUN": (
        ("datasets_FUN/seq_FUN/seq_FUN.train.arff", 3289292, "md5:20ad2e78b202fdf7484b4dc852d27b7f"),
        ("datasets_FUN/seq_FUN/seq_FUN.valid.arff", 1716739, "md5:611259398eec33c24dcb54a894d11655"),
        ("datasets_FUN/seq_FUN/seq_FUN.test.arff", 2606056, "md5:9a404e7779cbb733ad6d80219a04a198"),
    ),
    "spo_FUN": (
        ("datasets_FUN/spo_FUN/spo_FUN.train.arff", 648397, "md5:b7b84dfe13ccd2da4948d6f350846c99"),
        ("datasets_FUN/spo_FUN/spo_FUN.valid.arff", 343575, "md5:bcb3d234c54dc150ad23cba7493d2b5c"),
        ("datasets_FUN/spo_FUN/spo_FUN.test.arff", 515774, "md5:a4cfe50eaad41e3643eafd8218745581"),
    ),
    "cellcycle_GO": (
        ("datasets_GO/cellcycle_GO/cellcycle_GO.train.arff", 846744, "md5:67a1baf8ded800a23cafbf3bc4cdbcac"),
        ("datasets_GO/cellcycle_GO/cellcycle_GO.valid.arff", 501708, "md5:b416c571104ea1aedda4022a33df14ba"),
        ("datasets_GO/cellcycle_GO/cellcycle_GO.test.arff", 696543, "md5:8b0aca709e5a698baf1a5d214b7d2e33"),
    ),
    "derisi_GO": (
        ("datasets_GO/derisi_GO/derisi_GO.train.arff", 662906, "md5:8a2dae5124198f5a9043efeeeaaaa7a8"),
        ("datasets_GO/derisi_GO/derisi_GO.valid.arff", 404767, "md5:a73c41a556af2903be965569d308f579"),
        ("datasets_GO/derisi_GO/derisi_GO.test.arff", 553268, "md5:3993b8495c42c52ec497a038c5a3ddb0"),
    ),
    "eisen_GO": (
        ("datasets_GO/eisen_GO/eisen_GO.train.arff", 611356, "md5:a1235adcab222318f45645f539a27e9d"),
        ("datasets_GO/eisen_GO/eisen_GO.valid.arff", 358245, "md5:ed8f4f4c34aff60d58a0b24b09e31997"),
        ("datasets_GO/eisen_GO/eisen_GO.test.arff", 506778, "md5:75cb84cbd1601fb4d50c608ca44aa7b9"),
    ),
    "expr_GO": (
        ("datasets_GO/expr_GO/expr_GO.valid.arff", 2479540, "md5:9c1ca261666a3b9c4353c58f812b74b3"),
        ("datasets_GO/expr_GO/expr_GO.test.arff", 3682318, "md5:c9f4022cbcd0f0dc7b784da9c504aaa0"),
        ("datasets_GO/expr_GO/expr_GO.train.arff", None, "gitblob:0ffe98f15cd017ba7f57f1dd53e041a6427e6e09"),
    ),
    "gasch1_GO": (
        ("datasets_GO/gasch1_GO/gasch1_GO.train.arff", 1696700, "md5:aead334fe3c0ccc4e1522b63d10da18b"),
        ("datasets_GO/gasch1_GO/gasch1_GO.valid.arff", 941671, "md5:10ee507f12198ac4c3841b6d129ef160"),
        ("datasets_GO/gasch1_GO/gasch1_GO.test.arff", 1362075, "md5:5205b314b7635d9ebe6d7d5c70131b8b"),
    ),
    "gasch2_GO": (
        ("datasets_GO/gasch2_GO/gasch2_GO.train.arff", 715886, "md5:83a403981b4664d166a86ccf38af77ef"),
        ("datasets_GO/gasch2_GO/gasch2_GO.valid.arff", 429519, "md5:0ea6583117b8dfd3be8bf6d98ad2800b"),
        ("datasets_GO/gasch2_GO/gasch2_GO.test.arff", 590436, "md5:e7c5ee6e3c9392a200f9c1f1f7f45162"),
    ),
    "seq_GO": (
        ("datasets_GO/seq_GO/seq_GO.train.arff", 3415226, "md5:7abc6d75f283bc6fedf996fc7bc58f94"),
        ("datasets_GO/seq_GO/seq_GO.valid.arff", 1839843, "md5:3fe8e7e5cb5401674ec60dc94d6dcc42"),
        ("datasets_GO/seq_GO/seq_GO.test.arff", 2733226, "md5:ef0db5d2bbc3fadbbf920f584595330f"),
    ),
    "spo_GO": (
        ("datasets_GO/spo_GO/spo_GO.train.arff", 788785, "md5:a01aca622acf171005527c3dfbb54788"),
        ("datasets_GO/spo_GO/spo_GO.valid.arff", 471412, "md5:1dac709e5cf0ccff34bbb7dcbb926321"),
        ("datasets_GO/spo_GO/spo_GO.test.arff", 651582, "md5:4c7e130d314ed33801e621b6e0caa794"),
    ),
    "diatoms": (
        ("others/Diatoms_train.arff", 2750249, "md5:6b7e929480ab6fed2d1a1b4c58c4ee5d"),
        ("others/Diatoms_test.arff", 1412687, "md5:69db224350b6771b43f3314ada159110"),
    ),
    "enron": (
        ("others/Enron_corr_trainvalid.arff", 2075000, "md5:3663f6e7d8fdf2253d47ce6fd4129855"),
        ("others/Enron_corr_test.arff", 1415090, "md5:8bec796d0d6b6061ad34c683ad188651"),
    ),
    "imclef07a": (
        ("others/ImCLEF07A_Train.arff", 1732622, "md5:c94375aa37e344527dd6099054114c7d"),
        ("others/ImCLEF07A_Test.arff", 176660, "md5:01298292dd14d0159478858618f10a17"),
    ),
    "imclef07d": (
        ("others/ImCLEF07D_Train.arff", 1732440, "md5:66fef5c2da05806949d5601ae06e3f02"),
        ("others/ImCLEF07D_Test.arff", 176478, "md5:396c519dc8cb76bdabcdc1d9f279ea93"),
    ),
}


def _chmcnn_file(path: str, size: int | None, checksum: str) -> RemoteFile:
    """A benchmark file: ``hmc_datasets/HMC_data/<path>``, downloaded from the pinned C-HMCNN commit."""
    return RemoteFile(f"hmc_datasets/HMC_data/{path}", _CHMCNN_RAW + path, size, checksum)


SOURCES: dict[str, tuple[RemoteFile, ...]] = {
    **{name: tuple(_chmcnn_file(*row) for row in rows) for name, rows in _BENCHMARK_FILES.items()},
    "omniglot": (
        RemoteFile("omniglot/npz_bitsandscraps/images_background.npz", _OMNIGLOT_NPZ_RAW + "images_background.npz",
                   3340794, "sha256:8bf84167413cd00beacdce3fe582f780ab538d8dbef043a6d688f2527bbce199"),
        RemoteFile("omniglot/npz_bitsandscraps/images_evaluation.npz", _OMNIGLOT_NPZ_RAW + "images_evaluation.npz",
                   2415269, "sha256:0b84c7ffd94c4841c0040e529c86a82eaaccb986d8eadad5673f7991b7475276"),
    ),
    "omniglot_zips": (
        RemoteFile("omniglot/images_background.zip", _OMNIGLOT_ZIP_RAW + "images_background.zip",
                   9464212, "md5:68d2efa1b9178cc56df9314c21c6e718"),
        RemoteFile("omniglot/images_evaluation.zip", _OMNIGLOT_ZIP_RAW + "images_evaluation.zip",
                   6462886, "md5:6b91aef0f799c5bb55b94e3f2daec811"),
    ),
    "cifar100": (
        RemoteFile("cifar100/cifar-100-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                   169001437, "md5:eb9058c3a382ffc7106e4002c42a8d85"),
    ),
    "resnet18_weights": (
        RemoteFile("weights/resnet18-f37072fd.pth", "https://download.pytorch.org/models/resnet18-f37072fd.pth",
                   46830571, "sha256:f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec"),
    ),
    "aircraft": (
        RemoteFile("aircraft/fgvc-aircraft-2013b.tar.gz",
                   "https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/archives/fgvc-aircraft-2013b.tar.gz",
                   None, None),
    ),
}
"""Every dataset's files, keyed by dataset name."""

_YEAST = {
    "cellcycle": ("yeast cell-cycle microarray expression", "Spellman et al. 1998"),
    "derisi": ("yeast microarray expression in the diauxic shift", "DeRisi et al. 1997"),
    "eisen": ("yeast microarray expression, Eisen's combined experiments", "Eisen et al. 1998"),
    "expr": ("yeast microarray expression, several experiments combined", "Clare & King 2003"),
    "gasch1": ("yeast microarray expression under environmental stress", "Gasch et al. 2000"),
    "gasch2": ("yeast microarray expression under DNA-damaging agents", "Gasch et al. 2001"),
    "seq": ("yeast protein sequence statistics", "Clare & King 2003"),
    "spo": ("yeast microarray expression in sporulation", "Chu et al. 1998"),
}
_GO_CLASSES = {"cellcycle": 4122, "derisi": 4116, "eisen": 3570, "expr": 4128,
               "gasch1": 4122, "gasch2": 4128, "seq": 4130, "spo": 4116}
_VIA_CHMCNN = "Vens et al. 2008; Giunchiglia & Lukasiewicz 2020 (C-HMCNN)"

INFO: dict[str, DatasetInfo] = {
    **{f"{d}_FUN": DatasetInfo(f"{text}; FunCat tree, {461 if d == 'eisen' else 499} classes",
                               f"{cite}; {_VIA_CHMCNN}") for d, (text, cite) in _YEAST.items()},
    **{f"{d}_GO": DatasetInfo(f"{text}; Gene Ontology DAG, {_GO_CLASSES[d]} classes",
                              f"{cite}; {_VIA_CHMCNN}") for d, (text, cite) in _YEAST.items()},
    "diatoms": DatasetInfo("diatom images (shape/texture features); taxonomy tree, 398 classes",
                           f"Dimitrovski et al. 2012; {_VIA_CHMCNN}"),
    "enron": DatasetInfo("Enron e-mails (bag of words); topic hierarchy, 56 classes",
                         f"Klimt & Yang 2004; {_VIA_CHMCNN}"),
    "imclef07a": DatasetInfo("ImageCLEF 2007 medical X-rays; IRMA anatomical axis, 96 classes",
                             f"Dimitrovski et al. 2008; {_VIA_CHMCNN}"),
    "imclef07d": DatasetInfo("ImageCLEF 2007 medical X-rays; IRMA directional axis, 46 classes",
                             f"Dimitrovski et al. 2008; {_VIA_CHMCNN}"),
    "omniglot": DatasetInfo("Omniglot as npz: 50 alphabets > 1623 characters, 20 drawings each",
                            f"Lake et al. 2015; bitsandscraps/omniglot @ {OMNIGLOT_NPZ_COMMIT[:7]}"),
    "omniglot_zips": DatasetInfo("official Omniglot zips (optional: the npz copy holds the same pixels)",
                                 "Lake et al. 2015; brendenlake/omniglot"),
    "cifar100": DatasetInfo("CIFAR-100 (python): 20 superclasses > 100 classes, 60,000 32x32 images",
                            "Krizhevsky 2009"),
    "resnet18_weights": DatasetInfo("torchvision ResNet-18 ImageNet weights (IMAGENET1K_V1)",
                                    "He et al. 2016; torchvision"),
    "aircraft": DatasetInfo("FGVC-Aircraft 2013b: manufacturer > family > variant, 10,000 images "
                            "(no published checksum)", "Maji et al. 2013"),
}
"""A one-line description and a short source citation per dataset in :data:`SOURCES`."""
