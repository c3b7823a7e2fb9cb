"""The profile banner of an executed page (hmc.runs.banner), against hand-written expected text."""

from hmc.runs import banner


def test_quick_page_with_seeds_epoch_share_and_a_full_page():
    values = {"datasets": ["cellcycle_FUN", "spo_FUN", "cellcycle_GO", "enron"], "n_seeds": 3,
              "epoch_fraction": 0.1, "train": True}
    assert banner.banner_lines("quick", values, "2026-03-01", "full/02_chmcnn_reproduction.html") == [
        "Profile `quick`: a few minutes on a laptop CPU; not the papers' budget, so its numbers decide no claim.",
        "Budget of this run: 4 datasets (cellcycle_FUN, spo_FUN, cellcycle_GO, enron); 3 seeds; "
        "10% of the papers' epochs.",
        "Executed on 2026-03-01.",
        "The full results of this chapter are on its `full` page: full/02_chmcnn_reproduction.html.",
    ]


def test_full_page_of_images_that_trains_nothing():
    values = {"datasets": ["omniglot", "cifar100", "aircraft"], "image_size": 28, "n_heads": 20, "epochs": 20,
              "n_seeds": 10, "train": False}
    assert banner.banner_lines("full", values, "2026-12-06", "full/07_rare_nodes_images.html") == [
        "Profile `full`: the papers' protocol, with the deviations this page names.",
        "Budget of this run: 3 datasets (omniglot, cifar100, aircraft); 10 seeds; 20 epochs per run; 20 heads; "
        "28 px images; nothing trained by this page: it shows the finished units of the design.",
        "Executed on 2026-12-06.",
    ]


def test_selections_members_one_seed_and_a_page_without_budget():
    values = {"datasets": ["fun_go"], "n_seeds": 1, "epoch_fraction": 0.01, "n_members": 2}
    assert banner.banner_lines("smoke", values, "2026-01-02") == [
        "Profile `smoke`: a check that the page runs: seconds, tiny data; its numbers mean nothing.",
        "Budget of this run: every FUN and GO benchmark on disk; 1 seed; 1% of the papers' epochs; "
        "2 ensemble members per seed.",
        "Executed on 2026-01-02.",
    ]
    assert banner.budget_items({"benchmarks": ["all"], "images": ["synthetic", "omniglot"], "n_samples": 3000,
                                "epoch_fraction": 1.0}) == [
        "every benchmark on disk", "image hierarchies: synthetic, omniglot",
        "a synthetic dataset of 3,000 samples", "all of the papers' epochs"]
    assert banner.banner_lines("quick", {}, "2026-01-02")[1] == \
        "Budget of this run: none (this page has no training parameters)."


def test_html_is_an_admonition_with_the_link_and_escaped_text():
    html = banner.banner_html("quick", {"datasets": ["a<b"]}, "2026-01-02", "full/02_x.html")
    assert html.startswith('<div class="admonition note hmc-banner">\n<p class="admonition-title">Profile '
                           "<code>quick</code>: a few minutes")
    assert "1 dataset (a&lt;b)" in html
    assert '<a href="full/02_x.html"><code>full</code> page</a>' in html and html.endswith("</div>")
    assert 'class="admonition warning' in banner.banner_html("smoke", {}, "2026-01-02")


def test_executed_date_is_the_utc_date():
    assert banner.executed_date(0.0) == "1970-01-01"


def test_benchmarks_are_counted_as_benchmarks():
    assert banner.budget_items({"benchmarks": ["cellcycle_FUN", "cellcycle_GO"], "images": ["synthetic"]}) == [
        "2 benchmarks (cellcycle_FUN, cellcycle_GO)", "image hierarchies: synthetic"]


def test_a_backbone_other_than_the_papers_is_named():
    values = {"datasets": ["omniglot"], "n_seeds": 5, "epochs": 30, "image_size": 28, "backbone": "conv4",
              "width": 64}
    assert banner.budget_items(values) == [
        "1 dataset (omniglot)", "5 seeds", "30 epochs per run", "28 px images",
        "a Conv-4 backbone of width 64, not the paper's ResNet-18"]
    assert banner.budget_items({"backbone": "resnet18", "width": 64}) == []
