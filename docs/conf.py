"""Sphinx configuration of the evsim documentation (``make docs``)."""

import os
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gallery_scraper import OUTPUT, saved_figures  # noqa: E402

import evsim  # noqa: E402
from analyses.report import results_page  # noqa: E402

# the results page, generated from the stored claims.json of a `make verify` run
(ROOT / "docs" / "results.md").write_text(results_page(ROOT / "docs" / "results_claims.json"))

# one API page per module listed in api.rst's toctree (api/<module>), generated here
API = ROOT / "docs" / "api"
shutil.rmtree(API, ignore_errors=True)
API.mkdir()
for module in re.findall(r"^   api/(\S+)$", (ROOT / "docs" / "api.rst").read_text(), re.M):
    (API / f"{module}.rst").write_text(f"``{module}``\n{'=' * (len(module) + 4)}\n\n"
                                       f".. automodule:: {module}\n")

project = "evsim"
author = "the evsim team"
release = version = evsim.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.mathjax", "sphinx.ext.viewcode", "numpydoc",
              "myst_parser", "sphinx_gallery.gen_gallery"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.json", "auto_examples/*.md5",
                    "sg_execution_times.rst"]
html_theme = "alabaster"
html_static_path = ["_static"]
html_css_files = ["evsim.css"]
html_theme_options = {"page_width": "1100px"}
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_validation_checks = set()
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath", "amsmath"]  # $...$ and $$...$$ typeset by MathJax
# MathJax comes from its CDN; for pages read offline, point EVSIM_MATHJAX at a local copy
# (e.g. npm install mathjax@3: node_modules/mathjax/es5/tex-chtml.js)
if os.environ.get("EVSIM_MATHJAX"):
    mathjax_path = Path(os.environ["EVSIM_MATHJAX"]).resolve().as_uri()
# sphinx_gallery_conf holds functions (argv and scraper), which the config cache cannot pickle
suppress_warnings = ["myst.header", "config.cache"]

shutil.rmtree(OUTPUT, ignore_errors=True)
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/\d\d_",
    # every example at its small size, writing its figures where the scraper finds them
    "reset_argv": lambda gallery_conf, script_vars: [
        "--small", "--out", str(OUTPUT / Path(script_vars["src_file"]).stem)],
    "image_scrapers": (saved_figures,),
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
}
