"""A sphinx-gallery scraper for evsim's examples: they save their figures (PNG beside PDF)
into ``--out DIR`` and close them, so the gallery collects the PNGs written there."""

import shutil
import tempfile
from pathlib import Path

from sphinx_gallery.scrapers import figure_rst

#: where each example writes its figures during the build (one folder per example)
OUTPUT = Path(tempfile.gettempdir()) / "evsim_docs_gallery"


def saved_figures(block, block_vars, gallery_conf):
    """rST for the PNGs the example has written since the last code block."""
    folder = OUTPUT / Path(block_vars["src_file"]).stem
    shown = block_vars.setdefault("evsim_shown", set())
    new = sorted(p for p in folder.rglob("*.png") if p not in shown) if folder.is_dir() else []
    paths = []
    for png, target in zip(new, block_vars["image_path_iterator"]):
        shutil.copyfile(png, target)
        shown.add(png)
        paths.append(target)
    return figure_rst(paths, gallery_conf["src_dir"])
