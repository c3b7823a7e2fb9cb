"""What only the book needs: the helpers, tables and figures of the chapter pages, one module per page
or group of pages.

- :mod:`hmc.book.pages`: helpers every chapter shares: parameter checks, where results go, loading a
  page's benchmarks (with the synthetic fallback).
- :mod:`hmc.book.hierarchy_pages`: chapter 00 (what HMC is): a synthetic hierarchy, its label matrix,
  node frequency against depth, and the violations of independent per-node classifiers.
- :mod:`hmc.book.dataset_pages`: chapter 01 (the datasets): the benchmarks' sizes and node frequencies by
  depth, FunCat against GO, and the image hierarchies.
- :mod:`hmc.book.chmcnn_pages`: chapter 02 (the C-HMCNN reproduction): our AU(PRC) against the published
  values, and the cost per dataset.
- :mod:`hmc.book.rare_plots`: the figures of the rare-node chapters 03 to 05, and the book's figure
  conventions (:data:`~hmc.book.rare_plots.WIDTH`, :func:`~hmc.book.rare_plots.set_style`,
  :func:`~hmc.book.rare_plots.grid`, :func:`~hmc.book.rare_plots.legend_below`) that every page uses.
- :mod:`hmc.book.rare_tables`: the tables of chapters 03 to 05, arranged from their tidy result rows.
- :mod:`hmc.book.rare_node_pages`, :mod:`hmc.book.ensemble_pages`, :mod:`hmc.book.schedule_pages`: one step
  of chapter 03, 04 and 05 per call (their sweeps, tables with their formatting, figures, estimates).
- :mod:`hmc.book.hcal_pages`: the tables of the HCAL chapter 06, from its results and history tables.
- :mod:`hmc.book.hcal_plots`: the figures of chapter 06, each naming its dataset in its title.
- :mod:`hmc.book.rare_image_pages`: the tables and figures of chapter 07 (the rare-node loss on images),
  from the stress sweep's rows.
- :mod:`hmc.book.verdict_pages`: the verdicts page (80): what the chapter pages rest on, the scorecards
  recomputed with links to their evidence, the sensitivity tables and the verdicts counted.
- :mod:`hmc.book.verdict_text`: the Markdown of the verdicts page: badges, one-line evidence, the
  headline and registry tables (pure text).
- :mod:`hmc.book.reproduce_pages`: the reproduce page (90): the profiles, the run manifests, the training
  time the results tables hold, and the execution status of every page.

Nothing else in :mod:`hmc` imports from here: a notebook calls these to set up, load, tabulate and draw.
"""
