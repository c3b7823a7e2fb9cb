"""The sample of the real data committed with the tests (tests/data/sample): its checksums, its size,
and, where the complete data are on disk, that it is exactly the slice of them it says it is."""

import numpy as np
import pytest

import sample_data as sample
from hmc.data.download import verify_file
from hmc.data.sources import SOURCES


def test_checksums_list_every_file_and_match():
    sums = sample.read_checksums()
    assert list(sums) == sample.sample_files()
    for relpath, digest in sums.items():
        assert sample.sha256(sample.SAMPLE_ROOT / relpath) == digest, relpath
    on_disk = {p.relative_to(sample.SAMPLE_ROOT).as_posix() for p in sample.SAMPLE_ROOT.rglob("*") if p.is_file()}
    assert on_disk == set(sums) | {"SHA256SUMS", "README.md"}


def test_sample_is_small():
    total = sum((sample.SAMPLE_ROOT / relpath).stat().st_size for relpath in sample.sample_files())
    assert total < 3_000_000


def test_arff_head_keeps_the_header_and_the_first_rows():
    text = "@RELATION r\n@ATTRIBUTE a numeric\n@ATTRIBUTE class hierarchical 1,2\n@DATA\n1,1\n\n2,2\n3,1@2\n"
    header = "@RELATION r\n@ATTRIBUTE a numeric\n@ATTRIBUTE class hierarchical 1,2\n@DATA\n"
    assert sample.arff_head(text, 2) == header + "1,1\n2,2\n"
    with pytest.raises(ValueError, match="only 3 data rows"):
        sample.arff_head(text, 4)


def test_sample_is_the_described_slice_of_the_complete_data(complete_data, tmp_path):
    """Rebuilt from the complete files (after checking them against their published checksums), the
    ARFF files are byte for byte the committed ones (each the start of its complete file) and the
    Omniglot arrays the first characters of the complete arrays."""
    remotes = {f.relpath: f for name in (*sample.BENCHMARKS, "omniglot") for f in SOURCES[name]}
    for relpath in sample.sample_files():
        verify_file(complete_data / relpath, remotes[relpath])
    sample.write_sample(complete_data, tmp_path)
    for relpath in sample.benchmark_files():
        assert (tmp_path / relpath).read_bytes() == (sample.SAMPLE_ROOT / relpath).read_bytes(), relpath
        complete = (complete_data / relpath).read_bytes()
        assert complete.startswith((sample.SAMPLE_ROOT / relpath).read_bytes()), relpath
    for relpath, characters in zip(sample.omniglot_files(), sample.OMNIGLOT_CHARACTERS.values()):
        with np.load(sample.SAMPLE_ROOT / relpath) as ours, np.load(complete_data / relpath) as theirs:
            for key in ("images", "labels"):
                np.testing.assert_array_equal(ours[key], theirs[key][:characters])
