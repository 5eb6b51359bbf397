"""A non-unique optimum (equal eigenvalues of Sigma_x): TIE's range over the optimal set (issue 14)."""

import json

import numpy as np

from betavae_sym.cli import main
from betavae_sym.linear.degeneracy import OptimalSet, random_orthonormal, degenerate_groups, tie_range
from betavae_sym.linear.metrics import evaluate
from betavae_sym.linear.mixing import paper_mixing
from betavae_sym.linear.problem import make_problem
from betavae_sym.linear.solver import closed_form_parameters


def _rotations(angles):
    """The members of O(2) at ``angles``, rotations and reflections: (2 len(angles), 2, 2)."""
    rotations = np.stack([np.stack([np.cos(angles), -np.sin(angles)], -1), np.stack([np.sin(angles), np.cos(angles)], -1)],
                         axis=1)
    return np.concatenate([rotations, rotations @ np.diag([1.0, -1.0])])


def test_tie_range_equals_a_dense_search_over_the_rotations_of_the_degenerate_units():
    """Paper's A at k = 3: units 2 and 3 share an eigenvalue; the optimal set is O(2) acting on them.

    Independent truth: the aligned TIE (all 48 signed permutations) of members on an angle grid (720
    angles, both components), zoomed twice around the grid's extremes (to a step of 2e-8): the minimum is
    smooth, the maximum (of a minimum over relabellings) sits at a kink; both are then within ~1e-8.
    """
    problem = make_problem(paper_mixing(16, 3))
    for beta in (0.3, 1.1):
        (group,) = degenerate_groups(problem, beta)
        assert group.units == (1, 2) and group.directions == (1, 2)
        members = OptimalSet(problem, beta, [group])

        def aligned(angles):
            metrics = evaluate(problem, members.parameters([_rotations(angles)]), np.full(2 * len(angles), beta))[0]
            return metrics["tie"], metrics["objective"]

        def zoom(pick):
            angles = np.linspace(0, 2 * np.pi, 720, endpoint=False)
            for width in (1e-2, 2e-5, None):
                ties = aligned(angles)[0]
                best = pick(ties)
                if width is None:
                    return ties[best]
                angles = angles[best % len(angles)] + np.linspace(-width, width, 1001)

        ties, objective = aligned(np.linspace(0, 2 * np.pi, 720, endpoint=False))
        assert np.ptp(objective) <= 1e-12 * abs(objective[0])  # one optimal set: the same objective everywhere
        found = tie_range(problem, beta)
        assert not found.unique and ties.max() - ties.min() > 1e-3
        assert abs(found.minimum - zoom(np.argmin)) <= 1e-8 and abs(found.maximum - zoom(np.argmax)) <= 2e-8


def test_tie_range_bounds_random_members_at_k_4():
    problem = make_problem(paper_mixing(40, 4))
    beta = 0.8
    (group,) = degenerate_groups(problem, beta)
    members = OptimalSet(problem, beta, [group])
    V = random_orthonormal(np.random.default_rng(0), 3, 3, 200)
    ties = evaluate(problem, members.parameters([V]), np.full(len(V), beta))[0]["tie"]
    found = tie_range(problem, beta)
    own = evaluate(problem, members.parameters([block[None] for block in members.own()]), np.array([beta]))[0]["tie"]
    assert found.minimum <= ties.min() + 1e-9 and ties.max() <= found.maximum + 1e-9
    assert found.minimum <= own[0] <= found.maximum and found.maximum - found.minimum > 1e-3


def test_a_unique_optimum_has_a_point_range():
    problem = make_problem(paper_mixing(16, 2))
    assert degenerate_groups(problem, 1.0) == []
    found = tie_range(problem, 1.0)
    closed = evaluate(problem, closed_form_parameters(problem, np.array([1.0])), np.array([1.0]))[0]["tie"][0]
    assert found.unique and found.minimum == found.maximum == closed
    # collapsed units share their eigenvalue too, but leave nothing to choose
    assert degenerate_groups(make_problem(paper_mixing(16, 3)), 3.0) == []


def test_analytic_reports_the_range_warns_and_marks_the_tie_minimum_ambiguous(capsys):
    assert main(["analytic", "--mixing", "paper", "--N", "16", "--k", "3", "--betas", "0.3,0.8,1.1,2",
                 "--json", "-", "--no-progress"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert "warning: the optimum is not unique at 3 of 4 beta values" in captured.err
    assert set(document["extrema"]["ambiguous"]) == {"tie_argmin"}
    for record in document["records"]:
        assert record["converged"] and record["closed_form_gap"] <= 1e-9
        assert record["tie_min"] - 1e-9 <= record["tie"] <= record["tie_max"] + 1e-9
        assert record["optimum_unique"] == (record["beta"] == 2)
    assert main(["analytic", "--mixing", "paper", "--N", "16", "--betas", "0.5,1", "--json", "-", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["extrema"]["ambiguous"] == {} and "warning" not in captured.err
