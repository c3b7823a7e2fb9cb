"""Image hierarchies: Omniglot (the committed sample of the real npz, the complete npz when present, fake
official zips), CIFAR-100 and FGVC-Aircraft on tiny archives built here in the official layouts,
missing-data messages, and the container's checks."""

import io
import os
import pickle
import tarfile
import zipfile
from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from hmc.data import IMAGE_HIERARCHIES, load_image_hierarchy, paths
from hmc.data.images import (
    CIFAR100_MEAN,
    IMAGENET_MEAN,
    OMNIGLOT_ALPHABETS,
    ImageHierarchy,
    omniglot_alphabet_of,
    stratified_holdout,
)
from hmc.errors import DatasetMissingError, HMCDataError

import sample_data as sample


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    """An empty HMC_DATA_DIR and HMC_CACHE_DIR, so that only what a test writes there is found."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("HMC_DATA_DIR", str(root))
    monkeypatch.setenv("HMC_CACHE_DIR", str(tmp_path / "cache"))
    return root


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError) as err:
        load_image_hierarchy("imagenet")
    for name in IMAGE_HIERARCHIES:
        assert name in str(err.value)


# ================================================================================ missing data
def test_missing_cifar_names_the_archive_where_and_how(data_root):
    with pytest.raises(DatasetMissingError) as err:
        load_image_hierarchy("cifar100")
    message = str(err.value)
    assert "cifar-100-python.tar.gz" in message
    assert str(data_root / "cifar100") in message
    assert "python -m hmc data fetch cifar100" in message


def test_missing_omniglot_and_aircraft_say_how_to_get_them(data_root):
    with pytest.raises(DatasetMissingError, match="images_background.npz.*python -m hmc data fetch omniglot"):
        load_image_hierarchy("omniglot")
    with pytest.raises(DatasetMissingError, match="variants.txt.*2.75 GB.*FGVCAircraft"):
        load_image_hierarchy("aircraft")
    archive = data_root / "aircraft" / "fgvc-aircraft-2013b.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(b"")
    with pytest.raises(DatasetMissingError, match="not extracted"):
        load_image_hierarchy("aircraft")


# ================================================================================ Omniglot
def test_alphabet_table_matches_the_official_counts():
    assert len(OMNIGLOT_ALPHABETS) == 50
    assert OMNIGLOT_ALPHABETS[0][1] == 1 and OMNIGLOT_ALPHABETS[-1][2] == 1623
    for (_, _, last), (_, first, _) in zip(OMNIGLOT_ALPHABETS[:-1], OMNIGLOT_ALPHABETS[1:]):
        assert first == last + 1  # contiguous, no gap, no overlap
    counts = {name: last - first + 1 for name, first, last in OMNIGLOT_ALPHABETS}
    assert counts["Arcadian"] == 26 and counts["Armenian"] == 41 and counts["Tifinagh"] == 55
    assert sum(list(counts.values())[:30]) == 964 and sum(list(counts.values())[30:]) == 659
    assert list(omniglot_alphabet_of(np.array([1, 26, 27, 964, 965, 1623]))) == [0, 0, 1, 29, 30, 49]
    with pytest.raises(HMCDataError):
        omniglot_alphabet_of(np.array([1624]))


def _npz_or_skip():
    found = paths.find("omniglot/npz_bitsandscraps/images_background.npz")
    if found is None or found.is_relative_to(sample.SAMPLE_ROOT):
        pytest.skip("checks the complete Omniglot npz files: set HMC_DATA_DIR to the data folder to run this test")


@pytest.fixture(scope="module")
def omniglot_full():
    _npz_or_skip()
    return load_image_hierarchy("omniglot")


@pytest.fixture(scope="module")
def omniglot_sample(tmp_path_factory):
    """The committed sample (tests/data/sample): Arcadian and Armenian (IDs 1-67) and Angelic (965-984)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HMC_DATA_DIR", str(sample.SAMPLE_ROOT))
        mp.setenv("HMC_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield load_image_hierarchy("omniglot")


def test_omniglot_npz_has_1623_characters_under_50_alphabets(omniglot_full):
    h = omniglot_full
    assert h.level_names == ("character", "alphabet") and h.n_classes == (1623, 50)
    assert h.x_train.shape == (1623 * 15, 1, 28, 28) and h.x_test.shape == (1623 * 5, 1, 28, 28)
    assert h.x_train.dtype == torch.uint8 and h.y_train.dtype == torch.int64 and len(h.x_val) == 0
    per_alphabet = Counter(h.class_names[1][a] for a in h.level_parents[0])
    assert per_alphabet["Arcadian"] == 26 and per_alphabet["Armenian"] == 41 and per_alphabet["Tifinagh"] == 55
    assert sum(per_alphabet[name] for name, first, _ in OMNIGLOT_ALPHABETS if first <= 964) == 964
    assert sum(per_alphabet[name] for name, first, _ in OMNIGLOT_ALPHABETS if first > 964) == 659
    assert list(h.meta["character_ids"]) == list(range(1, 1624))
    assert h.class_names[0][26] == "Armenian/character01"
    # every character has 15 training and 5 test drawings; rows are character-major
    assert torch.equal(torch.bincount(h.y_train[:, 0]), torch.full((1623,), 15))
    assert torch.equal(h.y_test[:5, 0], torch.zeros(5, dtype=torch.int64))
    assert len(h.hierarchy) == 1673 and h.hierarchy.is_tree
    assert 0.03 < h.mean[0] < 0.2  # white ink on black: mostly dark


def test_omniglot_sample_has_its_three_alphabets(omniglot_sample):
    h = omniglot_sample
    assert h.level_names == ("character", "alphabet") and h.n_classes == (87, 3)
    assert h.class_names[1] == ("Arcadian", "Armenian", "Angelic")
    assert list(h.meta["character_ids"]) == list(range(1, 68)) + list(range(965, 985))
    assert h.x_train.shape == (87 * 15, 1, 28, 28) and h.x_test.shape == (87 * 5, 1, 28, 28)
    assert h.class_names[0][26] == "Armenian/character01" and h.class_names[0][67] == "Angelic/character01"
    assert torch.equal(torch.bincount(h.y_train[:, 0]), torch.full((87,), 15))
    assert len(h.hierarchy) == 87 + 3 and h.hierarchy.is_tree
    assert 0.03 < h.mean[0] < 0.2  # white ink on black: mostly dark


def test_omniglot_subset_and_validation_split_by_drawing(omniglot_sample, monkeypatch, tmp_path):
    monkeypatch.setenv("HMC_DATA_DIR", str(sample.SAMPLE_ROOT))
    monkeypatch.setenv("HMC_CACHE_DIR", str(tmp_path / "cache"))
    whole = omniglot_sample
    h = load_image_hierarchy("omniglot", max_alphabets=2, max_characters_per_alphabet=5, validation=True)
    assert h.n_classes == (10, 2) and h.class_names[1] == ("Arcadian", "Armenian")
    assert list(h.meta["character_ids"]) == [1, 2, 3, 4, 5, 27, 28, 29, 30, 31]
    assert (len(h.x_train), len(h.x_val), len(h.x_test)) == (10 * 13, 10 * 2, 10 * 5)
    assert h.meta["drawings"]["val"] == (13, 14) and "13-14 validation" in h.split
    # the same pixels as the whole load: drawings 0-12 train, 13-14 validation, 15-19 test
    for k, cid in enumerate(h.meta["character_ids"]):
        row = int(np.flatnonzero(whole.meta["character_ids"] == cid)[0])
        full = whole.x_train[row * 15:(row + 1) * 15]
        assert torch.equal(h.x_train[k * 13:(k + 1) * 13], full[:13])
        assert torch.equal(h.x_val[k * 2:(k + 1) * 2], full[13:])
        assert torch.equal(h.x_test[k * 5:(k + 1) * 5], whole.x_test[row * 5:(row + 1) * 5])
    assert h.y_val[:, 1].tolist() == [0] * 10 + [1] * 10


def _write_omniglot_zips(root, drawings_by_id):
    """Official layout: images_<set>/<Alphabet>/characterNN/XXXX_YY.png in omniglot/images_<set>.zip."""
    folder = root / "omniglot"
    folder.mkdir(parents=True, exist_ok=True)
    for set_name in ("background", "evaluation"):
        with zipfile.ZipFile(folder / f"images_{set_name}.zip", "w") as archive:
            archive.writestr(f"images_{set_name}/", b"")
            for cid, drawings in drawings_by_id.items():
                if (cid <= 964) != (set_name == "background"):
                    continue
                name, first, _ = OMNIGLOT_ALPHABETS[int(omniglot_alphabet_of(np.array([cid]))[0])]
                for d, white in enumerate(drawings):
                    buffer = io.BytesIO()
                    Image.fromarray(white.astype(np.uint8) * 255).convert("1").save(buffer, format="PNG")
                    entry = f"images_{set_name}/{name}/character{cid - first + 1:02d}/{cid:04d}_{d + 1:02d}.png"
                    archive.writestr(entry, buffer.getvalue())


def test_omniglot_from_official_zip_layout(data_root):
    rng = np.random.default_rng(0)
    drawings = {cid: rng.random((20, 12, 12)) > 0.2 for cid in (1, 2, 27, 965)}  # True = white background
    _write_omniglot_zips(data_root, drawings)
    h = load_image_hierarchy("omniglot", size=None)
    assert h.meta["source"][0].endswith("images_background.zip")
    assert h.class_names == (("Arcadian/character01", "Arcadian/character02", "Armenian/character01",
                              "Angelic/character01"), ("Arcadian", "Armenian", "Angelic"))
    assert list(h.level_parents[0]) == [0, 0, 1, 2]
    assert h.x_train.shape == (4 * 15, 1, 12, 12)
    # white ink: pixel 255 where the drawing is black
    assert torch.equal(h.x_train[15 + 3, 0], torch.from_numpy(np.where(drawings[2][3], 0, 255).astype(np.uint8)))
    assert torch.equal(h.x_test[3 * 5 + 4, 0], torch.from_numpy(np.where(drawings[965][19], 0, 255).astype(np.uint8)))
    assert h.y_test[3 * 5].tolist() == [3, 2]
    small = load_image_hierarchy("omniglot", size=6, max_alphabets=1, white_ink=False)
    assert small.n_classes == (2, 1) and small.x_train.shape == (30, 1, 6, 6)
    assert small.mean[0] > 0.6  # black ink on white


def test_omniglot_zip_matches_npz_pixels(omniglot_sample, tmp_path, monkeypatch):
    ids = (1, 2, 27, 965)
    npz = sample.SAMPLE_ROOT / "omniglot" / "npz_bitsandscraps"
    with np.load(npz / "images_background.npz") as bg, np.load(npz / "images_evaluation.npz") as ev:
        drawings = {cid: (bg["images"][cid - 1] if cid <= 964 else ev["images"][cid - 965]) for cid in ids}
    monkeypatch.setenv("HMC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HMC_CACHE_DIR", str(tmp_path / "cache"))
    _write_omniglot_zips(tmp_path, drawings)
    from_zip = load_image_hierarchy("omniglot", source="zip")
    rows = [int(np.flatnonzero(omniglot_sample.meta["character_ids"] == cid)[0]) for cid in ids]
    for k, row in enumerate(rows):
        assert torch.equal(from_zip.x_train[k * 15:(k + 1) * 15], omniglot_sample.x_train[row * 15:(row + 1) * 15])
        assert torch.equal(from_zip.x_test[k * 5:(k + 1) * 5], omniglot_sample.x_test[row * 5:(row + 1) * 5])


def test_omniglot_zip_errors(data_root):
    drawings = {1: np.ones((20, 8, 8), dtype=bool), 965: np.ones((20, 8, 8), dtype=bool)}
    _write_omniglot_zips(data_root, drawings)
    with zipfile.ZipFile(data_root / "omniglot" / "images_background.zip", "a") as archive:
        archive.writestr("images_background/Latin/character01/0002_01.png", b"")  # ID 2 is Arcadian
    with pytest.raises(HMCDataError, match="Arcadian/character02"):
        load_image_hierarchy("omniglot")
    del drawings[1]
    drawings[3] = np.ones((19, 8, 8), dtype=bool)
    _write_omniglot_zips(data_root, drawings)
    with pytest.raises(HMCDataError, match="character 3 has drawings"):
        load_image_hierarchy("omniglot")


# ================================================================================ CIFAR-100
def _cifar_dicts(n_train_per=5, n_test_per=2, seed=0):
    rng = np.random.default_rng(seed)
    coarse_of = (np.arange(100) * 7) % 20  # not in blocks: parents must come from the data
    parts = {}
    for part, per in (("train", n_train_per), ("test", n_test_per)):
        fine = rng.permutation(np.repeat(np.arange(100), per))
        parts[part] = {
            b"filenames": [f"img_{i}.png".encode() for i in range(len(fine))],
            b"batch_label": f"{part} batch".encode(),
            b"fine_labels": [int(f) for f in fine],
            b"coarse_labels": [int(coarse_of[f]) for f in fine],
            b"data": rng.integers(0, 256, (len(fine), 3072), dtype=np.uint8),
        }
    parts["meta"] = {b"fine_label_names": [f"fine_{i}".encode() for i in range(100)],
                     b"coarse_label_names": [f"coarse_{i}".encode() for i in range(20)]}
    return parts, coarse_of


def _write_cifar_archive(root, parts):
    folder = root / "cifar100"
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / "cifar-100-python.tar.gz", "w:gz") as tar:
        for name, obj in parts.items():
            data = pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"cifar-100-python/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_cifar100_from_a_tiny_official_archive(data_root):
    parts, coarse_of = _cifar_dicts()
    _write_cifar_archive(data_root, parts)
    h = load_image_hierarchy("cifar100")
    assert h.level_names == ("fine", "coarse") and h.n_classes == (100, 20)
    assert h.x_train.shape == (500, 3, 32, 32) and h.x_test.shape == (200, 3, 32, 32)
    assert h.x_train.dtype == torch.uint8 and h.y_train.dtype == torch.int64
    assert torch.equal(h.x_train[7].reshape(-1), torch.from_numpy(parts["train"][b"data"][7]))
    assert h.y_train[:, 0].tolist() == parts["train"][b"fine_labels"]
    assert h.y_test[:, 1].tolist() == parts["test"][b"coarse_labels"]
    assert list(h.level_parents[0]) == list(coarse_of)
    assert h.class_names[0][3] == "fine_3" and h.class_names[1][19] == "coarse_19"
    assert h.mean == CIFAR100_MEAN and len(h.x_val) == 0
    assert h.hierarchy.is_valid_path(["coarse:coarse_1", "fine:fine_3"])  # 3 * 7 % 20 == 1


def test_cifar100_extracted_folder_and_validation_split(data_root):
    parts, _ = _cifar_dicts(n_train_per=10)
    folder = data_root / "cifar100" / "cifar-100-python"
    folder.mkdir(parents=True)
    for name, obj in parts.items():
        (folder / name).write_bytes(pickle.dumps(obj, protocol=2))
    h = load_image_hierarchy("cifar100", validation=True)
    assert (len(h.x_train), len(h.x_val), len(h.x_test)) == (900, 100, 200)
    assert torch.equal(torch.bincount(h.y_val[:, 0], minlength=100), torch.ones(100, dtype=torch.int64))
    assert "0.1 of each fine class" in h.split
    again = load_image_hierarchy("cifar100", validation=True)
    assert torch.equal(h.x_val, again.x_val)
    # the held-out rows and the kept rows partition the training set
    kept, held = stratified_holdout(np.array(parts["train"][b"fine_labels"]), 0.1, 0)
    assert torch.equal(h.x_val, torch.from_numpy(parts["train"][b"data"][held].reshape(-1, 3, 32, 32)))
    assert len(np.intersect1d(kept, held)) == 0 and len(kept) + len(held) == 1000


def test_cifar100_corrupt_mapping_and_files_raise(data_root):
    parts, coarse_of = _cifar_dicts()
    row = parts["train"][b"fine_labels"].index(4)
    parts["train"][b"coarse_labels"][row] = int((coarse_of[4] + 1) % 20)
    _write_cifar_archive(data_root, parts)
    with pytest.raises(HMCDataError, match="fine 'fine_4' occurs under several coarse"):
        load_image_hierarchy("cifar100")
    parts, _ = _cifar_dicts()
    parts["meta"] = {b"fine_label_names": os.path.join}  # a global: refused by the restricted unpickler
    _write_cifar_archive(data_root, parts)
    with pytest.raises(HMCDataError, match="refusing"):
        load_image_hierarchy("cifar100")
    parts, _ = _cifar_dicts()
    del parts["test"]
    _write_cifar_archive(data_root, parts)
    with pytest.raises(HMCDataError, match="lacks cifar-100-python/test"):
        load_image_hierarchy("cifar100")


# ================================================================================ FGVC-Aircraft
AIRCRAFT_CLASSES = {
    "variant": ["737-200", "737-300", "727-200", "Cessna 172", "A300B4"],
    "family": ["Boeing 737", "Boeing 727", "Cessna 172", "A300"],
    "manufacturer": ["Boeing", "Cessna", "Airbus"],
}
VARIANT_FAMILY = [0, 0, 1, 2, 3]
FAMILY_MAKER = [0, 0, 1, 2]


def _write_aircraft(root, per_split=(("train", 2), ("val", 1), ("test", 2))):
    """Each image: blue 160x120 background with a red rectangle exactly at its bounding box."""
    data = root / "aircraft" / "fgvc-aircraft-2013b" / "data"
    (data / "images").mkdir(parents=True)
    files = {"variant": "variants.txt", "family": "families.txt", "manufacturer": "manufacturers.txt"}
    for level, file in files.items():
        (data / file).write_text("\n".join(AIRCRAFT_CLASSES[level]) + "\n")
    rng = np.random.default_rng(1)
    lines = {(level, split): [] for level in files for split, _ in per_split}
    boxes, n = [], 0
    for split, per in per_split:
        for v, variant in enumerate(AIRCRAFT_CLASSES["variant"]):
            for _ in range(per):
                image_id = f"{1000000 + n:07d}"
                n += 1
                family = VARIANT_FAMILY[v]
                names = {"variant": variant, "family": AIRCRAFT_CLASSES["family"][family],
                         "manufacturer": AIRCRAFT_CLASSES["manufacturer"][FAMILY_MAKER[family]]}
                for level in files:
                    lines[level, split].append(f"{image_id} {names[level]}")
                x0, y0 = int(rng.integers(10, 50)), int(rng.integers(10, 40))
                x1, y1 = x0 + int(rng.integers(60, 100)), y0 + int(rng.integers(50, 70))
                img = Image.new("RGB", (160, 120), (0, 0, 255))
                img.paste((255, 0, 0), (x0, y0, x1, y1))
                img.save(data / "images" / f"{image_id}.jpg", quality=95, subsampling=0)
                boxes.append(f"{image_id} {x0 + 1} {y0 + 1} {x1} {y1}")  # 1-based inclusive
    for (level, split), rows in lines.items():
        (data / f"images_{level}_{split}.txt").write_text("\n".join(rows) + "\n")
    for level in files:
        both = lines[level, "train"] + lines[level, "val"]
        (data / f"images_{level}_trainval.txt").write_text("\n".join(both) + "\n")
    (data / "images_box.txt").write_text("\n".join(boxes) + "\n")
    return data


def test_aircraft_levels_parents_and_official_split(data_root):
    _write_aircraft(data_root)
    h = load_image_hierarchy("aircraft", size=16)
    assert h.level_names == ("variant", "family", "manufacturer") and h.n_classes == (5, 4, 3)
    assert [list(p) for p in h.level_parents] == [VARIANT_FAMILY, FAMILY_MAKER]
    assert (len(h.x_train), len(h.x_test), len(h.x_val)) == (15, 10, 0)
    assert h.x_train.shape[1:] == (3, 16, 16) and h.mean == IMAGENET_MEAN
    assert h.y_train[0].tolist() == [0, 0, 0] and h.y_test[-1].tolist() == [4, 3, 2]
    # "Cessna 172" is both a variant and a family: distinct hierarchy nodes
    assert h.hierarchy.is_valid_path(["manufacturer:Cessna", "family:Cessna 172", "variant:Cessna 172"])
    assert h.meta["image_ids"]["train"][0] == "1000000" and h.meta["boxes"]["test"].shape == (10, 4)
    assert "trainval / test" in h.split
    v = load_image_hierarchy("aircraft", size=16, validation=True)
    assert (len(v.x_train), len(v.x_val), len(v.x_test)) == (10, 5, 10)
    assert torch.equal(v.x_test, h.x_test)


def test_aircraft_box_crops(data_root):
    data = _write_aircraft(data_root)
    h = load_image_hierarchy("aircraft", size=16, crop_to_box=True)
    red, blue = h.x_train[:, 0].float().mean(), h.x_train[:, 2].float().mean()
    assert red > 230 and blue < 25  # training images show only the box
    assert (h.x_test[:, 2, 0, 0] > 200).all()  # test images keep the blue background by default
    assert h.meta["cropped"] == {"train": True, "test": False}
    both = load_image_hierarchy("aircraft", size=16, crop_to_box=True, crop_test_to_box=True)
    assert both.x_test[:, 0].float().mean() > 230
    # the draft-mode decode gives the same crop as a full decode, up to JPEG/resampling noise
    image_id, box = h.meta["image_ids"]["test"][0], both.meta["boxes"]["test"][0]
    with Image.open(data / "images" / f"{image_id}.jpg") as img:
        full = img.convert("RGB").crop((box[0] - 1, box[1] - 1, box[2], box[3])).resize((16, 16), Image.BILINEAR)
    expected = torch.from_numpy(np.array(full)).permute(2, 0, 1).float()
    assert (both.x_test[0].float() - expected).abs().mean() < 8


def test_aircraft_malformed_files_raise(data_root):
    data = _write_aircraft(data_root)
    family_test = data / "images_family_test.txt"
    rows = family_test.read_text().splitlines()
    family_test.write_text("\n".join(rows[1:]) + "\n")
    with pytest.raises(HMCDataError, match="list different images"):
        load_image_hierarchy("aircraft", size=8)
    family_test.write_text("\n".join([rows[0].split(" ")[0] + " Boeing 727", *rows[1:]]) + "\n")
    with pytest.raises(HMCDataError, match="variant '737-200' occurs under several family"):
        load_image_hierarchy("aircraft", size=8)
    family_test.write_text("\n".join([rows[0].split(" ")[0] + " Concorde", *rows[1:]]) + "\n")
    with pytest.raises(HMCDataError, match="images_family_test.txt, line 1: class 'Concorde'"):
        load_image_hierarchy("aircraft", size=8)


# ================================================================================ the container
def _tiny(y_train, parents=(0, 0, 1)):
    x = torch.zeros((len(y_train), 1, 2, 2), dtype=torch.uint8)
    return ImageHierarchy(
        name="tiny", x_train=x, y_train=torch.tensor(y_train), x_test=x[:1], y_test=torch.tensor(y_train[:1]),
        level_names=("fine", "coarse"), class_names=(("a", "b", "c"), ("A", "B")), level_parents=(parents,),
        mean=(0.5,), std=(0.25,), split="by hand")


def test_container_checks_labels_against_parents():
    h = _tiny([[0, 0], [2, 1]])
    assert h.n_levels == 2 and h.n_classes == (3, 2) and h.image_shape == (1, 2, 2)
    assert h.x_val.shape == (0, 1, 2, 2) and h.y_val.shape == (0, 2)
    assert [h.hierarchy.nodes[i] for i in h.node_indices[0]] == ["fine:a", "fine:b", "fine:c"]
    assert torch.allclose(h.normalize(torch.full((1, 1, 2, 2), 255, dtype=torch.uint8)), torch.full((1, 1, 2, 2), 2.0))
    assert "fine 3 -> coarse 2" in repr(h)
    with pytest.raises(HMCDataError, match="row 1 has fine 2 under coarse 0"):
        _tiny([[0, 0], [2, 0]])
    with pytest.raises(HMCDataError, match="outside"):
        _tiny([[3, 1]])
