"""What only the book needs: page helpers (:mod:`hmc.book.pages`), the figures and tables of the
rare-node chapters 03 to 05 (:mod:`hmc.book.rare_plots`, :mod:`hmc.book.rare_tables`) and of chapter 07
(:mod:`hmc.book.rare_image_pages`).

Nothing else in :mod:`hmc` imports from here: a notebook calls these to set up, load, tabulate and draw.
"""
