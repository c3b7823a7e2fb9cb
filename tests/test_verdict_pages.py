"""hmc.book.verdict_pages (the verdicts page): hand-built chapter pages, manifests, results tables and
headline tables, with the text and counts expected written out by hand."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import hmc.claims.headline  # noqa: E402
import hmc.hcal_evidence  # noqa: E402
import hmc.scorecard  # noqa: E402
from hmc.book import verdict_pages as vp  # noqa: E402
from hmc.book.rare_plots import WIDTH  # noqa: E402
from hmc.book.verdict_text import badge  # noqa: E402
from hmc.hcal_evidence import HCAL_CLAIMS  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def page(*cells, **papermill):
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    nb.metadata["papermill"] = papermill
    return nb


def md(text):
    return nbformat.v4.new_markdown_cell(text)


def code(source, *outputs):
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = list(outputs)
    return cell


def test_read_pages(tmp_path):
    (tmp_path / "book").mkdir()
    for stem in vp.chapters()[:-1]:
        nbformat.write(page(md("# x")), tmp_path / "book" / f"{stem}.ipynb")
    with pytest.raises(FileNotFoundError, match="book/07_rare_nodes_images.ipynb is missing"):
        vp.read_pages(tmp_path)
    nbformat.write(page(md("# x")), tmp_path / "book" / "07_rare_nodes_images.ipynb")
    assert list(vp.read_pages(tmp_path)) == ["03_rare_node_loss", "04_ensembles_and_dropout",
                                             "05_schedules_and_resampling", "06_hcal", "07_rare_nodes_images"]


def test_chapter_tables():
    assert vp.chapter_tables("04_ensembles_and_dropout") == ["04_ensembles_and_dropout.csv",
                                                             "04_ensembles_and_dropout_cost.csv"]
    assert vp.chapter_tables("06_hcal") == ["06_hcal.csv", "06_hcal_history.csv"]


def test_chapter_basis_reads_the_manifest_and_tables(tmp_path):
    quick = tmp_path / "quick"
    (quick / "manifests").mkdir(parents=True)
    (quick / "manifests" / "03_rare_node_loss.json").write_text(json.dumps({
        "started": "2026-12-06 20:01:00 UTC", "status": "ok", "commit": "abc123",
        "device": "cpu: AMD EPYC (2 logical cores, torch threads 1)",
        "parameters": {"datasets": ["a"], "n_seeds": 3, "epoch_fraction": 0.01}}))
    (quick / "03_rare_node_loss.csv").write_text("dataset,value\nb,1\na,2\nb,3\n")
    nb = page(parameters={"profile": "quick"}, start_time="2026-12-06T20:00:00+00:00",
              end_time="2026-12-06T20:10:00+00:00")
    assert vp.chapter_basis("03_rare_node_loss", nb, tmp_path) == {
        "chapter": "03_rare_node_loss", "page profile": "quick", "results profile": "quick", "datasets": "a, b",
        "budget": "n_seeds = 3, epoch_fraction = 0.01", "device": "cpu: AMD EPYC", "executed": "2026-12-06 20:10 UTC",
        "status": "ok", "manifest": "this run, ok, commit abc123", "rows": {"03_rare_node_loss.csv": 3}}
    # read under another profile: no manifest, no table; the page's own parameters are not that run's
    other = vp.chapter_basis("03_rare_node_loss", nb, tmp_path, results_profile="full")
    assert (other["results profile"], other["datasets"], other["budget"], other["manifest"], other["rows"]) == (
        "full", "(no results table)", "settings unknown (no manifest)", "none", {"03_rare_node_loss.csv": None})
    # a manifest of a run that started 5 minutes later is another run
    late = page(parameters={"profile": "quick"}, start_time="2026-12-06T19:56:00+00:00")
    assert vp.chapter_basis("03_rare_node_loss", late, tmp_path)["manifest"] == "another run"
    assert vp.chapter_basis("03_rare_node_loss", late, tmp_path)["executed"] == "?"


def basis():
    rows = []
    for stem in vp.chapters():
        rows.append({"chapter": stem, "page profile": "quick", "results profile": "full" if stem == "06_hcal" else "quick",
                     "datasets": "d", "budget": "n_seeds = 2", "device": "cpu", "executed": "2026-12-06 20:10 UTC",
                     "status": "ok", "manifest": "this run, ok, commit c_1", "rows": {f"{stem}.csv": 5}})
    return pd.DataFrame(rows).set_index("chapter")


def test_basis_rows_and_box():
    table = vp.basis_rows(basis()).split("\n")
    assert table[2] == ('| [ch.&nbsp;03](03_rare_node_loss.html "03_rare_node_loss") | quick | 2026-12-06 20:10 | '
                        "this run, ok, commit c\\_1 | 5 |")
    assert table[5] == ('| [ch.&nbsp;06](06_hcal.html "06_hcal") | page quick, results full | 2026-12-06 20:10 | '
                        "this run, ok, commit c\\_1 | 5 |")
    top = pd.DataFrame({"study": ["rare", "rare", "hcal"], "basis": ["full", "quick", "quick"]})
    coverage = pd.DataFrame({"chapter": ["03", "04"], "done": [104, 0], "designed": [1440, 720], "share": [0.0722, 0.0]})
    box = vp.basis_box(basis(), top, coverage)
    assert box.startswith(":::{admonition} What the verdicts rest on\n:class: warning\n\nThe headline verdicts (section 2) "
                          "rest on the `full` results for 1 of 3 claims (chapter 03: 104 of 1440 units (7%) of the full design)")
    assert box.endswith("- **HCAL claims (Jiang et al. 2025)**, chapter pages:\n"
                        "  - chapter 06 under `full`: d; n_seeds = 2; cpu\n:::")
    # the profiles used, each said once, in order of first use
    assert (vp.MEANING["quick"] + "; " + vp.MEANING["full"] + ".") in box


CHAPTER_05 = md("# Chapter 05\n\n## 8. The claims scorecard of the rare-node study\n\ntext")


def test_find_section_and_links():
    nb = page(md("## 2. Other"), CHAPTER_05, md("## Unnumbered \"quoted\" title"))
    assert vp.find_section(nb, "the claims scorecard") == ("8", "The claims scorecard of the rare-node study",
                                                           "the-claims-scorecard-of-the-rare-node-study")
    link = vp.SectionLinks({"05_x": nb})
    assert link("05_x", "The claims") == ('[ch.&nbsp;05&nbsp;§8](05_x.html#the-claims-scorecard-of-the-rare-node-study '
                                          '"chapter 05, section 8: The claims scorecard of the rare-node study")')
    assert link("05_x", "Unnumbered") == ('[ch.&nbsp;05, Unnumbered "quoted" title](05_x.html#unnumbered-quoted-title '
                                          '"chapter 05, section None: Unnumbered quoted title")')
    assert vp.find_section(nb, "nowhere") is None
    assert link("05_x", "Nowhere") == "[chapter 05](05_x.html)"
    assert link.missing == ["05_x: 'Nowhere'"]


def test_every_evidence_section_exists():
    """Each (chapter, title start) of EVIDENCE_AT and STUDIES names a section of the chapter's source (a
    title start without its number: find_section matches the title after ``N.``)."""
    import jupytext

    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    places = {p for claims in vp.EVIDENCE_AT.values() for ps in claims.values() for p in ps}
    places |= {s["scorecard_at"] for s in vp.STUDIES.values()}
    missing = [p for p in sorted(places) if vp.find_section(jupytext.read(notebooks / f"{p[0]}.py"), p[1]) is None]
    assert missing == []


def hcal_card(verdicts):
    return pd.DataFrame({"claim": list(range(1, len(verdicts) + 1)), "statement": [f"S{i}" for i in range(len(verdicts))],
                         "verdict": verdicts, "evidence": ["protocol val; (a) holds: x; more"] * len(verdicts)})


def test_verdict_table():
    pages = {"06_hcal": page(md("## 3. HCAL against the baselines"))}
    link = vp.SectionLinks(pages)
    text = vp.verdict_table("hcal", hcal_card(["partly"]), link, drop_lead="protocol val")
    assert text == ("| Claim | Statement | Verdict and evidence, in short | See |\n|---|---|---|---|\n"
                    f"| 1 | S0 | {badge('partly')}<br>(a) holds: x | "
                    '[ch.&nbsp;06&nbsp;§3](06_hcal.html#hcal-against-the-baselines "chapter 06, section 3: '
                    'HCAL against the baselines") |')
    plain = vp.verdict_table("hcal", hcal_card(["partly"]), link, links=False)
    assert plain == ("| Claim | Statement | Verdict and evidence, in short |\n|---|---|---|\n"
                     f"| 1 | S0 | {badge('partly')}<br>protocol val<br>(a) holds: x |")


def stream(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def html(text):
    return nbformat.v4.new_output("execute_result", data={"text/html": text}, execution_count=1)


RARE_HTML = ('<td id="T_ab_row0_col0" class="data">1</td><td id="T_ab_row0_col1" class="data">reproduced</td>'
             '<td id="T_ab_row1_col1" class="data"> inconclusive </td>')


def test_chapter_verdicts():
    rare = page(code("x = 1", html(RARE_HTML)), code("card = scorecard_from_results(t)", html(RARE_HTML)))
    assert vp.chapter_verdicts(rare, "rare") == {1: "reproduced", 2: "inconclusive"}
    hcal = page(code("print(hp.verdict_report(card, used, design, CONVENTIONS, 5, 30, profile))",
                     stream("Claim 1: HCAL is better\n  verdict:  partly\nClaim 2: fewer\n  verdict:  not reproduced\n")))
    assert vp.chapter_verdicts(hcal, "hcal") == {1: "partly", 2: "not reproduced"}
    assert vp.chapter_verdicts(hcal, "rare") == {}


def test_agreement():
    shown = page(md("## 9. The claims scorecard"),
                 code("print(hp.verdict_report(card))", stream("Claim 1: a\n  verdict:  partly\nClaim 2: b\n  verdict:  partly\n")))
    pages = {"06_hcal": shown}
    link = vp.SectionLinks(pages)
    where = ('[ch.&nbsp;06&nbsp;§9](06_hcal.html#the-claims-scorecard "chapter 06, section 9: The claims scorecard") '
             "(page executed 2026-12-06 20:10 UTC)")
    assert vp.agreement("hcal", hcal_card(["partly", "partly"]), pages, link, basis()) == (
        f"The scorecard of {where} shows the same 2 verdicts.")
    assert vp.agreement("hcal", hcal_card(["partly", "reproduced"]), pages, link, basis()) == (
        f"**These verdicts differ from those of {where}** (its results tables changed after it ran): "
        "claim 2: here reproduced, there partly.")
    pages = {"06_hcal": page(md("## 9. The claims scorecard"))}
    assert vp.agreement("hcal", hcal_card(["partly"]), pages, vp.SectionLinks(pages), basis()).startswith(
        "The verdicts could not be read from [ch.&nbsp;06&nbsp;§9]")


def test_full_evidence(capsys):
    card = pd.DataFrame([{"claim": 2, "statement": "S", "verdict": "partly", "evidence": "e " * 60, "reasons": "",
                          "test": "wilcoxon", "strength": None, "paper": "-", "ours": "o"}])
    vp.full_evidence(card, {2: "rule two"})
    lines = capsys.readouterr().out.split("\n")
    assert lines[:2] == ["Claim 2: S", "  verdict:  partly"]
    assert lines[2] == "  evidence: " + " ".join(["e"] * 49)  # wrapped at 110 characters
    assert lines[3] == " " * 12 + " ".join(["e"] * 11)
    assert lines[4:9] == ["  test:     wilcoxon", "  rule:     rule two", "  paper:    -", "  ours:     o", ""]


def test_rare_scorecard_reads_each_chapter_under_its_profile(monkeypatch):
    calls = {}
    monkeypatch.setattr(hmc.scorecard, "read_chapter_tables",
                        lambda root, profile: {k: f"{profile}:{k}" for k in hmc.scorecard.CHAPTER_FILES})

    def fake_scorecard(tables, where):
        calls.update(tables=tables, where=where)
        return pd.DataFrame({"claim": list(hmc.scorecard.CLAIMS)})

    monkeypatch.setattr(hmc.scorecard, "scorecard", fake_scorecard)
    b = basis()
    b.loc["05_schedules_and_resampling", "results profile"] = "full"
    vp.rare_scorecard("results", b)
    assert calls["tables"] == {"03": "quick:03", "04": "quick:04", "04_cost": "quick:04_cost", "05": "full:05",
                               "07": "quick:07"}
    assert calls["where"] == "results/quick+full"
    monkeypatch.setattr(hmc.scorecard, "scorecard", lambda tables, where: pd.DataFrame({"claim": [1]}))
    with pytest.raises(AssertionError, match="update EVIDENCE_AT"):
        vp.rare_scorecard("results", b)


def test_hcal_card_without_results(tmp_path):
    card, lead, note = vp.hcal_card(tmp_path, "quick")
    assert (lead, note) == ("", "")
    assert list(card.claim) == list(HCAL_CLAIMS) and set(card.verdict) == {"not tested here"}
    assert set(card.evidence) == {"results/quick/06_hcal.csv not found"}


def test_sensitivity_tables_use_each_claims_headline_basis(monkeypatch, tmp_path):
    monkeypatch.setattr(hmc.scorecard, "read_chapter_tables", lambda root, profile: {"03": profile})
    monkeypatch.setattr(hmc.scorecard, "rare_sensitivity",
                        lambda tables, number, where: pd.DataFrame({"choice": ["c"], "alternative": ["a"],
                                                                    "reading": [f"{number} {where}"]}))
    monkeypatch.setattr(hmc.scorecard, "bucket_table", lambda t: pd.DataFrame({"bucket": ["b"], "largest finite gain": [1.234]}))
    monkeypatch.setattr(hmc.claims.headline, "hcal_designs", lambda results, manifest: {})
    monkeypatch.setattr(hmc.hcal_evidence, "hcal_sensitivity",
                        lambda res, number, hist, design: pd.DataFrame({"choice": ["c"], "alternative": ["a"], "rows": [len(res)],
                                                                  "no_history": [hist is None]}))
    top = pd.DataFrame({"study": ["rare"] * 6, "claim": [1, 2, 3, 4, 5, 6],
                        "basis": ["full", "full", "quick", "quick (pipeline check)", "full", "quick"]})
    (tmp_path / "quick").mkdir()
    (tmp_path / "quick" / "06_hcal.csv").write_text("dataset\na\nb\n")
    tables = vp.sensitivity_tables(top, tmp_path, "quick")
    captions = [t.caption for t in tables]
    assert captions[:4] == ["Rare-node claim 1, every bucket (results/full)",
                            f"Rare-node claim 1: {hmc.scorecard.CLAIMS[1]} (results/full)",
                            f"Rare-node claim 4: {hmc.scorecard.CLAIMS[4]} (results/quick)",
                            f"Rare-node claim 5: {hmc.scorecard.CLAIMS[5]} (results/full)"]
    assert [t.data.reading.iloc[0] for t in tables[1:4]] == ["1 results/full", "4 results/quick", "5 results/full"]
    assert captions[4:] == [f"HCAL claim {k}: {s} (results/quick)" for k, s in HCAL_CLAIMS.items()]
    assert tables[4].data["rows"].iloc[0] == 2 and bool(tables[4].data["no_history"].iloc[0])
    (tmp_path / "quick" / "06_hcal.csv").unlink()
    assert len(vp.sensitivity_tables(top, tmp_path, "quick")) == 4  # no HCAL table anywhere


TOP = pd.DataFrame({"study": ["rare", "rare", "rare", "hcal", "hcal"],
                    "verdict": ["reproduced", "inconclusive", "inconclusive", "partly", "not tested here"],
                    "basis": ["full", "full", "quick", "quick", "full"]})


def test_verdict_counts_and_glues():
    counts = vp.verdict_counts(TOP)
    assert list(counts.index) == ["Rare-node claims (Xu et al. 2026)", "HCAL claims (Jiang et al. 2025)", "all claims"]
    assert counts.to_dict("list") == {"reproduced": [1, 0, 1], "partly": [0, 1, 1], "not reproduced": [0, 0, 0],
                                      "inconclusive": [2, 0, 2], "not tested here": [0, 1, 1], "claims": [3, 2, 5]}
    glues = vp.count_glues(counts, TOP)
    assert glues["verdicts_rare_inconclusive"] == 2 and glues["verdicts_hcal_not_tested_here"] == 1
    assert glues["verdicts_all_claims"] == 5 and glues["verdicts_all_not_reproduced"] == 0
    assert glues["verdicts_rare_basis"] == "2 of 3 on full results"
    assert glues["verdicts_hcal_basis"] == "1 of 2 on full results"
    assert glues["verdicts_all_basis"] == "3 of 5 on full results"
    assert len(glues) == 3 * 7
    assert vp.counts_summary(counts) == ("- Rare-node claims (Xu et al. 2026): 1 reproduced, 2 inconclusive (of 3)\n"
                                         "- HCAL claims (Jiang et al. 2025): 1 partly, 1 not tested here (of 2)\n"
                                         "- all claims: 1 reproduced, 1 partly, 2 inconclusive, 1 not tested here (of 5)")


def test_counts_figure():
    fig = vp.counts_figure(vp.verdict_counts(TOP))
    ax = fig.axes[0]
    assert fig.get_size_inches()[0] == pytest.approx(WIDTH)
    assert ax.get_legend() is None and len(fig.legends) == 1  # the legend below, outside the bars
    widths = [p.get_width() for p in ax.patches if p.get_width()]
    assert sorted(widths) == [1, 1, 1, 2]  # rare: 1 + 2; HCAL: 1 + 1
    assert sorted(t.get_text() for t in ax.texts) == ["1", "1", "1", "2"]


def test_key_first_makes_the_first_column_the_row_headers():
    from hmc.book.pages import key_first

    frame = pd.DataFrame({"choice": ["rare", "factor"], "verdict": ["partly", "reproduced"]})
    keyed = key_first(frame)
    assert keyed.index.name == "choice" and keyed.index.tolist() == ["rare", "factor"]
    assert keyed.columns.tolist() == ["verdict"]
    assert key_first(frame, 2).index.names == ["choice", "verdict"]
    assert "<th id=\"T_" in keyed.style.to_html() and ">rare</th>" in keyed.style.to_html()


def test_levels_text_names_each_level_finest_first_with_its_classes():
    from types import SimpleNamespace

    from hmc.book.pages import levels_text

    data = SimpleNamespace(level_names=("character", "alphabet"), class_names=(["a"] * 3, ["x"]))
    assert levels_text(data) == "3 character -> 1 alphabet"
