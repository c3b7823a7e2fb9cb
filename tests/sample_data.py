"""The small sample of the real data committed with the tests (``tests/data/sample/``), and how it is made.

The test suite runs without the complete data: wherever a test needs real files it points
``HMC_DATA_DIR`` at this sample (the ``sample_data`` fixture of ``conftest.py``). Only the tests that
check the complete files themselves (checksums, byte sizes, row counts) need the full data folder.

What the sample holds, laid out like a data root (same relative paths as the complete files):

- three HMC benchmarks, ``cellcycle_FUN``, ``spo_FUN`` (FunCat trees) and ``cellcycle_GO`` (a Gene
  Ontology DAG): each split file is the complete file's header, unchanged (every attribute and the
  full hierarchy), followed by its first :data:`ROWS` data rows, byte for byte;
- Omniglot as the two npz files: the first :data:`OMNIGLOT_CHARACTERS` characters of each, i.e. the
  alphabets Arcadian and Armenian (character IDs 1-67) of ``images_background`` and Angelic (IDs
  965-984) of ``images_evaluation``, all 20 drawings of each character, the arrays unchanged.

Rebuild it from a complete data folder (the checksums of its files are in ``SHA256SUMS``; the test
``tests/test_sample_data.py`` checks them, and, where the complete data are on disk, that the sample
is exactly the slice of them described here)::

    python tests/sample_data.py /path/to/data            # writes tests/data/sample/
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
from pathlib import Path

import numpy as np

SAMPLE_ROOT = Path(__file__).resolve().parent / "data" / "sample"
"""The committed sample, a data root (``HMC_DATA_DIR`` may point at it)."""

BENCHMARKS = ("cellcycle_FUN", "spo_FUN", "cellcycle_GO")
"""The benchmarks in the sample: two FunCat trees and one GO DAG."""

ROWS = {"train": 200, "valid": 100, "test": 100}
"""Data rows kept per split file (the first ones)."""

OMNIGLOT_CHARACTERS = {"images_background.npz": 67, "images_evaluation.npz": 20}
"""Characters kept per Omniglot npz file (the first ones): Arcadian + Armenian; Angelic."""

OMNIGLOT_DIR = "omniglot/npz_bitsandscraps"
CHECKSUMS = "SHA256SUMS"


def benchmark_files() -> list[str]:
    """The relative paths of the sample's ARFF files (train, valid, test of each benchmark)."""
    from hmc.data.benchmarks import BENCHMARKS as SPECS

    return [SPECS[name].files[split] for name in BENCHMARKS for split in ("train", "valid", "test")]


def omniglot_files() -> list[str]:
    """The relative paths of the sample's two Omniglot npz files."""
    return [f"{OMNIGLOT_DIR}/{name}" for name in OMNIGLOT_CHARACTERS]


def sample_files() -> list[str]:
    """Every file of the sample, relative to its root (``SHA256SUMS`` excluded)."""
    return benchmark_files() + omniglot_files()


def split_of(relpath: str) -> str:
    """``"train"``, ``"valid"`` or ``"test"`` for a benchmark file name ``<name>.<split>.arff``."""
    return relpath.rsplit(".", 2)[-2]


def arff_head(text: str, rows: int) -> str:
    """The ARFF header (up to and including the ``@DATA`` line) followed by its first ``rows`` non-empty
    data lines, every line as it is in ``text`` (line endings kept)."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.strip().lower() == "@data":
            break
    else:
        raise ValueError("no @DATA line")
    data = [line for line in lines[i + 1:] if line.strip()][:rows]
    if len(data) < rows:
        raise ValueError(f"only {len(data)} data rows, {rows} wanted")
    return "".join(lines[: i + 1] + data)


def npz_head(source: Path, characters: int) -> dict[str, np.ndarray]:
    """The first ``characters`` rows of the ``images`` and ``labels`` arrays of an Omniglot npz."""
    with np.load(source) as data:
        return {"images": data["images"][:characters].copy(), "labels": data["labels"][:characters].copy()}


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """``arrays`` as a compressed npz (numpy writes fixed zip timestamps: the bytes are reproducible)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_checksums(root: Path = SAMPLE_ROOT) -> dict[str, str]:
    """``SHA256SUMS`` as {relative path: sha256 hex}."""
    sums = {}
    for line in (Path(root) / CHECKSUMS).read_text().splitlines():
        if line.strip():
            digest, relpath = line.split(maxsplit=1)
            sums[relpath.lstrip("*")] = digest
    return sums


def write_sample(source_root: Path, out: Path = SAMPLE_ROOT) -> list[Path]:
    """Write the sample from the complete data under ``source_root`` into ``out``; return the files.

    Also writes ``out/SHA256SUMS``. Raises FileNotFoundError naming a source file that is absent.
    """
    source_root, out = Path(source_root), Path(out)
    written = []
    for relpath in benchmark_files():
        text = (source_root / relpath).read_bytes().decode("utf-8")
        target = out / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(arff_head(text, ROWS[split_of(relpath)]).encode("utf-8"))
        written.append(target)
    for relpath, characters in zip(omniglot_files(), OMNIGLOT_CHARACTERS.values()):
        target = out / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(npz_bytes(npz_head(source_root / relpath, characters)))
        written.append(target)
    sums = "".join(f"{sha256(path)}  {path.relative_to(out).as_posix()}\n" for path in written)
    (out / CHECKSUMS).write_text(sums)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rebuild the test sample from a complete data folder.")
    parser.add_argument("source", type=Path, help="a data root holding hmc_datasets/ and omniglot/")
    parser.add_argument("--out", type=Path, default=SAMPLE_ROOT, help=f"default {SAMPLE_ROOT}")
    args = parser.parse_args(argv)
    files = write_sample(args.source, args.out)
    total = sum(f.stat().st_size for f in files)
    print(f"{len(files)} files, {total / 1e6:.2f} MB, in {args.out}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's hmc package
    sys.exit(main())
