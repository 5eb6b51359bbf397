"""``betavae-sym analytic``: output contract and one-line errors (exit 2, nothing written)."""

import json

import numpy as np
import pytest

from betavae_sym.cli import main


def test_json_to_stdout_has_the_documented_schema(tmp_path, capsys):
    plot = tmp_path / "fig3.png"
    assert main(["analytic", "--mixing", "paper", "--N", "16", "--betas", "0.5,1,1.5,2", "--json", "-",
                 "--plot", str(plot), "--csv", str(tmp_path / "r.csv"), "--no-progress"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["N"], document["k"], document["mixing"]) == (16, 2, "paper")
    assert document["data"] == {"noise_var": 1.0, "sigma_x": None, "dataset": None}
    assert set(document["extrema"]) == {"elbo_argmax", "tie_argmin", "mie_argmin", "ambiguous"}
    assert set(document["records"][0]) == {"beta", "elbo", "mie", "tie", "recon", "kl", "log_likelihood",
                                           "objective", "tie_min", "tie_max", "optimum_unique", "converged",
                                           "max_grad", "closed_form_gap"}
    assert abs(document["extrema"]["elbo_argmax"] - 1) < 1e-6
    assert plot.exists() and plot.with_suffix(".svg").exists()


def _bad(tmp_path, *arguments):
    with pytest.raises(SystemExit) as exit_info:
        code = main(["analytic", *arguments, "--json", str(tmp_path / "out.json"), "--no-progress"])
        raise SystemExit(code)
    assert exit_info.value.code == 2
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("betas", ["0,1", "-1", "nan", "inf,1", "", "1:2", "1:a:3", "2:1:5", "1:2:0", ","])
def test_bad_beta_specifications_exit_2(tmp_path, capsys, betas):
    _bad(tmp_path, "--mixing", "paper", "--betas", betas)
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_bad_mixing_files_exit_2(tmp_path, capsys):
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan], [0.0, 1.0]]))
    np.save(tmp_path / "wide.npy", np.ones((2, 3)))
    np.save(tmp_path / "rank.npy", np.ones((4, 2)))
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "text.csv").write_text("1,2\nx,y\n")
    (tmp_path / "vector.npy").write_bytes(b"not a numpy file")
    for name in ("missing.npy", "nan.npy", "wide.npy", "rank.npy", "objects.npy", "text.csv", "vector.npy", "A.txt"):
        _bad(tmp_path, "--mixing", str(tmp_path / name), "--betas", "1")
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--mixing" in err[0], err


def test_unwritable_output_exits_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(main(["analytic", "--mixing", "paper", "--betas", "1", "--json",
                               str(blocker / "out.json"), "--no-progress"]))
    assert exit_info.value.code == 2


def test_csv_mixing_file_is_read(tmp_path, capsys):
    np.savetxt(tmp_path / "A.csv", 0.5 * (np.ones((5, 2)) + np.eye(5, 2)), delimiter=",")
    assert main(["analytic", "--mixing", str(tmp_path / "A.csv"), "--betas", "1", "--json", "-",
                 "--no-progress"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["N"], document["k"], document["mixing"]) == (5, 2, "A.csv")


def test_a_general_covariance_given_as_noise_variances_or_as_sigma_x_gives_the_same_sweep(tmp_path, capsys):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((6, 2))
    variances = rng.uniform(0.3, 2.0, 6)
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "psi.npy", variances)
    np.savetxt(tmp_path / "Sigma.csv", A @ A.T + np.diag(variances), delimiter=",")
    documents = []
    for data in (["--noise-var", str(tmp_path / "psi.npy")], ["--sigma-x", str(tmp_path / "Sigma.csv")]):
        assert main(["analytic", "--mixing", str(tmp_path / "A.npy"), *data, "--betas", "0.3,1,2.5", "--json", "-",
                     "--no-progress"]) == 0
        documents.append(json.loads(capsys.readouterr().out))
    assert documents[0]["data"] == {"noise_var": "psi.npy", "sigma_x": None, "dataset": None}
    assert documents[1]["data"] == {"noise_var": None, "sigma_x": "Sigma.csv", "dataset": None}
    for one, other in zip(*(d["records"] for d in documents)):
        assert one["converged"] and one["closed_form_gap"] <= 1e-9
        for name in ("elbo", "mie", "tie", "recon", "kl", "log_likelihood", "objective"):
            assert abs(one[name] - other[name]) <= 1e-10 * max(1.0, abs(one[name])), name


def test_bad_covariance_inputs_exit_2_naming_the_flag(tmp_path, capsys):
    A = 0.5 * (np.ones((4, 2)) + np.eye(4, 2))
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "short.npy", np.ones(3))
    np.save(tmp_path / "negative.npy", np.array([1.0, -1.0, 1.0, 1.0]))
    np.save(tmp_path / "small.npy", np.eye(4))  # Sigma_x - A A^T is not positive definite
    np.save(tmp_path / "wide.npy", np.ones((4, 2)))
    for flag, value in (("--noise-var", "short.npy"), ("--noise-var", "negative.npy"), ("--noise-var", "nan"),
                        ("--noise-var", "0"), ("--sigma-x", "small.npy"), ("--sigma-x", "wide.npy"),
                        ("--sigma-x", "missing.npy")):
        target = value if value in ("nan", "0") else str(tmp_path / value)
        _bad(tmp_path, "--mixing", str(tmp_path / "A.npy"), flag, target, "--betas", "1")
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and flag in err[0], err


@pytest.mark.parametrize("standardize", [True, False])
def test_a_dataset_covariance_is_the_one_the_sweep_feeds_its_networks(tmp_path, capsys, standardize):
    """--dataset mixed-digits against the same covariance written out here from the digits and the first n rows:
    raw, Sigma_x = A A^T + sigma^2 I; standardized, A' = A / s, Psi' = sigma^2 / s^2 with s the per-pixel s.d. of
    the first n raw rows (the training standardization of a sweep with that n)."""
    from betavae_sym.data.synthetic import mixed_digits

    sigma, n = 0.8, 300
    raw = mixed_digits(n=n, digit_classes=[3, 7], sigma_eta=sigma, seed=4)
    scale = raw.X_raw.std(axis=0) if standardize else np.ones(raw.N)
    np.save(tmp_path / "A.npy", raw.A / scale[:, None])
    np.save(tmp_path / "psi.npy", sigma**2 / scale**2)
    common = ["--betas", "0.4,1,2.5", "--json", "-", "--no-progress"]
    dataset = ["--dataset", "mixed-digits", "--digit-classes", "3,7", "--sigma-eta", str(sigma), "--data-seed", "4",
               "--n", str(n), *([] if standardize else ["--no-standardize"])]
    documents = []
    for source in (dataset, ["--mixing", str(tmp_path / "A.npy"), "--noise-var", str(tmp_path / "psi.npy")]):
        assert main(["analytic", *source, *common]) == 0
        documents.append(json.loads(capsys.readouterr().out))
    assert documents[0]["data"]["dataset"]["digit_classes"] == "3,7"
    assert documents[0]["data"]["dataset"]["standardize"] is standardize
    assert (documents[0]["N"], documents[0]["k"]) == (1600, 2)
    for one, other in zip(*(d["records"] for d in documents)):
        assert one["converged"] and one["closed_form_gap"] <= 1e-9
        for name in ("elbo", "mie", "tie", "recon", "kl", "log_likelihood", "objective"):
            assert abs(one[name] - other[name]) <= 1e-9 * max(1.0, abs(one[name])), name


def test_dataset_options_need_a_gaussian_dataset_and_no_other_data(tmp_path, capsys):
    for arguments, flag in ((["--dataset", "positioned-digit"], "--dataset"),
                            (["--dataset", "mixed-digits", "--noise-var", "2"], "--noise-var"),
                            (["--mixing", "paper", "--sigma-eta", "2"], "--sigma-eta"),
                            (["--mixing", "paper", "--no-standardize"], "--no-standardize")):
        _bad(tmp_path, *arguments, "--betas", "1")
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and flag in err[0], err
