"""The numeric solver's parts against independent truths: finite differences, the closed form, known saddles."""

import numpy as np

from betavae_sym.linear.metrics import evaluate
from betavae_sym.linear.objective import Objective
from betavae_sym.linear.problem import make_problem
from betavae_sym.linear.solver import closed_form_parameters, solve_problem
from betavae_sym.linear.sweep import RECORD_METRICS, sweep_problem


def _paper(N, k=2):
    return 0.5 * (np.ones((N, k)) + np.eye(N, k))


def test_complex_step_hessian_matches_central_differences_of_the_gradient():
    rng = np.random.default_rng(0)
    for fix_decoder in (None, rng.standard_normal((5, 2))):
        problem = make_problem(rng.standard_normal((5, 2)), fix_decoder=fix_decoder, sigma_y2=0.7, sigma_eta2=1.3)
        objective = Objective(problem)
        theta = 0.3 * rng.standard_normal((2, objective.size))
        beta = np.array([0.4, 1.7])
        H = objective.hessian(theta, beta)
        h = 1e-6
        for row in range(2):
            for j in range(objective.size):
                up, down = theta[row].copy(), theta[row].copy()
                up[j] += h
                down[j] -= h
                column = (objective.value_and_gradient(up, beta[row])[1]
                          - objective.value_and_gradient(down, beta[row])[1]) / (2 * h)
                assert np.allclose(H[row, j], column, rtol=1e-6, atol=1e-6), (row, j)


def test_gradient_of_the_whitened_vector_matches_central_differences_of_the_objective():
    rng = np.random.default_rng(1)
    objective = Objective(make_problem(_paper(7)))
    theta = 0.3 * rng.standard_normal(objective.size)
    value, gradient, _ = objective.value_and_gradient(theta, 0.8)
    h = 1e-6
    for j in range(objective.size):
        step = np.zeros(objective.size)
        step[j] = h
        fd = (objective.value_and_gradient(theta + step, 0.8)[0] - objective.value_and_gradient(theta - step, 0.8)[0])
        assert abs(fd / (2 * h) - gradient[j]) <= 1e-6 * max(1.0, abs(gradient[j])), j


def test_solver_leaves_the_collapsed_saddle_for_the_global_maximum():
    """All weights zero (every unit at the prior) is a stationary point; below the collapse threshold a saddle."""
    problem = make_problem(_paper(6))
    beta = 0.5  # both eigenvalues of Sigma_x that the units can take (4.75, 1.25) exceed beta sigma_y2
    zeros = {name: np.zeros(shape) for name, shape in
             (("W_mu", (2, 6)), ("b_mu", (2, 1)), ("W_sigma", (2, 6)), ("b_sigma", (2, 1)), ("D", (6, 2)),
              ("b_D", (6, 1)))}
    reduced = {name: value[:, :problem.n] if name in ("W_mu", "W_sigma") else value[:problem.n]
               if name in ("D", "b_D") else value for name, value in zeros.items()}
    objective = Objective(problem)
    assert objective.value_and_gradient(objective.pack(reduced), beta)[2] == 0.0  # stationary
    solution = solve_problem(problem, beta, starts=0, initial=reduced)
    closed = evaluate(problem, closed_form_parameters(problem, np.array([beta])), np.array([beta]))[0]
    assert solution.converged
    for name in RECORD_METRICS:
        assert abs(solution.metrics[name] - closed[name][0]) <= 1e-9 * max(1.0, abs(closed[name][0])), name


def test_sweep_matches_the_closed_form_to_1e9_across_collapse_thresholds():
    # Sigma_x eigenvalues 4.75 and 1.25 (sigma_y2 = 1): unit 2 collapses at beta = 1.25, unit 1 at 4.75
    # (beyond, with every unit at the prior, MIE is 0 on a whole interval; the grid stops before)
    result = sweep_problem(make_problem(_paper(6)), np.linspace(0.05, 4.5, 60))
    assert all(record["converged"] for record in result.records)
    assert max(record["closed_form_gap"] for record in result.records) <= 1e-9
    # Proposition 3 and the paper's MIE minimum: both at beta = 1 (the refinement's precision is ~1e-7)
    assert abs(result.extrema["elbo_argmax"] - 1.0) <= 1e-6
    assert abs(result.extrema["mie_argmin"] - 1.0) <= 1e-6


def test_sweep_progress_bar_ends_at_its_total(monkeypatch):
    """Issue 15: the bar counted 82 on an 80-point sweep and 5 on 3 points."""
    import tqdm

    bars = []

    class Bar:
        def __init__(self, total, **options):
            self.total, self.n = total, 0
            bars.append(self)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n=1):
            self.n += n
            assert self.n <= self.total

    monkeypatch.setattr(tqdm, "tqdm", Bar)
    problem = make_problem(_paper(6))
    for points in (1, 2, 3, 80):
        sweep_problem(problem, np.linspace(0.3, 2.5, points), progress=True)
        assert bars[-1].n == bars[-1].total >= points
