"""Math a person can read: the committed derivations and the report's MathML.

The printers rewrite the package's matrix-expression artefacts (the all-ones
column, element-wise exponentials, unit coefficients); the truth here is the
text itself: the forms SymPy's default printer leaves (``d \\mapsto e^{d}``, a
bare ``1`` multiplying a matrix, ``1 \\left(``) must not appear in any printed
form, and the MathML must be well-formed XML that names no SymPy class.
"""

import re
import xml.dom.minidom
from pathlib import Path

import pytest
import sympy as sp

from betavae_sym.symbolic import derivations as dv
from betavae_sym.symbolic import printed
from betavae_sym.symbolic.document import latex, mathml
from betavae_sym.symbolic.equations import _generic_FE, general, paper

DERIVATIONS = Path(__file__).resolve().parents[1] / "derivations"

#: A ones-matrix "1" multiplying what stands before it (``\beta 1``, ``\right) 1``) or after it (``1 D``, ``1 \left(``).
ONE_AFTER_A_FACTOR = re.compile(r"(?:[A-Za-z}\)]|\\right\)) 1(?![\d.}])")
ONE_BEFORE_A_FACTOR = re.compile(r"(?<![\d.{^_\\])1 (?=\\left|\\mathbb|\\operatorname|[A-Za-z(])")
FORBIDDEN = {"an element-wise function as d -> e^d": re.compile(r"\\mapsto"),
             "a unit factor": re.compile(r"(?<![\d.{^_\\])1 \\left\("),
             "a bare ones-matrix 1 after a factor": ONE_AFTER_A_FACTOR,
             "a bare ones-matrix 1 before a factor": ONE_BEFORE_A_FACTOR}


def math_blocks(text: str) -> list[str]:
    """The display-math blocks ($$ ... $$) of a derivation document."""
    return re.findall(r"^\$\$\n(.*?)\n\$\$$", text, re.S | re.M)


def artefacts(form: str) -> list[str]:
    return [name for name, pattern in FORBIDDEN.items() if pattern.search(form)]


def test_the_artefact_patterns_catch_what_sympys_default_printer_writes():
    g = general()
    defaults = [sp.latex(paper(g.gradient(p), g)) for p in ("W_sigma", "b_sigma", "D", "b_D")]
    defaults.append(sp.latex(paper(g.inference_error(*_generic_FE(g)), g)))
    found = {name for form in defaults for name in artefacts(form)}
    assert found == set(FORBIDDEN)


@pytest.mark.parametrize("path", sorted(DERIVATIONS.glob("*.md")), ids=lambda p: p.name)
def test_no_printed_form_in_the_derivations_has_a_matrix_expression_artefact(path):
    blocks = math_blocks(path.read_text(encoding="utf-8"))
    assert blocks or path.name == "README.md"
    bad = [(artefacts(block), block[:160]) for block in blocks if artefacts(block)]
    assert bad == []


def test_ones_products_and_elementwise_exponentials_are_written_as_the_paper_does():
    g = general()
    text = latex(paper(g.gradient("b_sigma"), g))
    assert r"\operatorname{diag}\left(D^{T} D\right)" in text                      # [D^T D]_aa as a column
    assert r"\exp_{\circ}\left(\frac{1}{2} \operatorname{diag}\left(W^{\sigma}" in text
    assert r"\beta \mathbb{1}" in text


def test_mathml_is_well_formed_and_names_no_sympy_class():
    g, m21 = general(), dv.model(2, 1)
    for obj in (paper(g.gradient("W_sigma"), g), paper(g.objective(), g), printed.eq40(m21), printed.eq28(g),
                {m21.b_mu[0]: 0}, paper(g.inference_error(*_generic_FE(g)), g)):
        markup = mathml(obj)
        document = xml.dom.minidom.parseString(f'<math xmlns="http://www.w3.org/1998/Math/MathML">{markup}</math>')
        text = document.documentElement.toxml()
        assert not re.search(r"elementwise|diagonalof|onematrix|\\\\|[{}]", text, re.I), text[:300]
    assert "<mi>diag</mi>" in mathml(paper(g.gradient("b_sigma"), g))
    assert mathml(None) is None


def test_the_report_renders_an_equation_as_mathml_and_keeps_latex_in_markdown(tmp_path):
    from betavae_sym.report import Document, to_html, to_markdown

    g = general()
    expr = paper(g.gradient("b_sigma"), g)
    doc = Document("t")
    doc.math(latex(expr), mathml(expr), "(none)")
    doc.math(r"Z[\mathbf{J}]", None, "(none)")          # hand-written LaTeX only: shown as its source
    doc.math(None, None, "(not transcribed)")
    page = to_html(doc)
    assert page.count('<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">') == 1
    assert "<mi>diag</mi>" in page and r"\operatorname" not in page
    assert 'title="LaTeX source"' in page and "(not transcribed)" in page
    markdown = to_markdown(doc, tmp_path)
    assert "$$\n" + latex(expr) + "\n$$" in markdown and "(not transcribed)" in markdown
