"""The mobility demand shock (issue 24): drawn per episode, applied to the realised demand only, and checked
against the scenario's rates over many episodes."""

import numpy as np
import pytest

from netctrl.errors import ScenarioError
from netctrl.problems.mobility import MobilityEnv, load_city
from netctrl.problems.mobility.scenario import CitySettings
from netctrl.registry import get_problem


def test_without_a_shock_the_demand_is_the_nominal_draw():
    env = MobilityEnv(load_city("nyc_brooklyn", demand_pairs="all", shock_multiplier=2.0, shock_share=0.25))
    ref = MobilityEnv(load_city("nyc_brooklyn", demand_pairs="all"))
    env.reset(seed=4), ref.reset(seed=4)
    assert env.shock is None and np.array_equal(env.demand, ref.demand)  # shock_steps = 0: no shock


def test_shock_multiplies_the_rates_of_the_drawn_regions_in_the_drawn_window():
    env = get_problem("mobility/nyc_brooklyn-shock").make_env().unwrapped
    sc, s = env.scenario, env.scenario.settings
    nominal = load_city("nyc_brooklyn", demand_pairs="all").rate
    inside = [0.0, 0.0]  # (demand, rate) summed over the shocked pairs and steps
    outside = [0.0, 0.0]
    starts = set()
    for seed in range(300):
        env.reset(seed=seed)
        sh = env.shock
        assert len(sh["regions"]) == round(s.shock_share * env.N) and sh["stop"] - sh["start"] == s.shock_steps
        assert 0 <= sh["start"] <= s.steps - s.shock_steps
        starts.add(sh["start"])
        mask = np.zeros_like(nominal, bool)
        mask[sh["start"] : sh["stop"], np.isin(sc.pairs[:, 0], sh["regions"])] = True
        inside[0] += env.demand[mask].sum()
        inside[1] += nominal[mask].sum()
        outside[0] += env.demand[~mask].sum()
        outside[1] += nominal[~mask].sum()
    assert inside[0] / inside[1] == pytest.approx(s.shock_multiplier, rel=0.03)
    assert outside[0] / outside[1] == pytest.approx(1.0, rel=0.02)
    assert len(starts) > 6  # the start varies from episode to episode
    assert np.array_equal(sc.rate, nominal)  # what forecasts use is untouched


@pytest.mark.parametrize(("field", "value"), [("shock_share", 1.5), ("shock_multiplier", -1.0), ("shock_steps", 21)])
def test_bad_shock_settings_name_the_field(field, value):
    with pytest.raises(ScenarioError, match=field):
        CitySettings(**{field: value})


def test_shifted_demand_scales_and_delays_the_realised_rates_only():
    nominal = load_city("nyc_brooklyn", demand_pairs="all")
    bigger = load_city("nyc_brooklyn", demand_pairs="all", demand_scale=1.3)
    later = load_city("nyc_brooklyn", demand_pairs="all", demand_delay=3)
    assert np.array_equal(bigger.rate, nominal.rate) and np.array_equal(later.rate, nominal.rate)  # forecasts
    assert np.allclose(bigger.realised_rate, 1.3 * nominal.rate)
    total, lagged = nominal.rate.sum(axis=1), later.realised_rate.sum(axis=1)
    assert np.allclose(lagged[3:], total[:-3]) and np.allclose(lagged[:3], total[0])  # the profile lags 3 steps
    t = 10  # within a step, the pairs keep the scenario's shares (so their prices and trip times)
    assert np.allclose(later.realised_rate[t] / lagged[t], nominal.rate[t] / total[t])
    draws = [bigger, nominal]
    means = []
    for sc in draws:  # the environment draws from the realised rates
        env = MobilityEnv(sc)
        means.append(np.mean([(env.reset(seed=k), env.demand.sum())[1] for k in range(40)]))
    assert means[0] / means[1] == pytest.approx(1.3, rel=0.02)
    shocked = MobilityEnv(
        load_city(
            "nyc_brooklyn", demand_pairs="all", demand_scale=0.7, shock_multiplier=2.0, shock_share=0.25, shock_steps=8
        )
    )
    shocked.reset(seed=1)
    sh = shocked.shock
    mask = np.zeros_like(nominal.rate, bool)
    mask[sh["start"] : sh["stop"], np.isin(nominal.pairs[:, 0], sh["regions"])] = True
    assert shocked.demand[~mask].sum() < nominal.rate[~mask].sum() * 0.8  # the shock comes on top of the shift
    with pytest.raises(ScenarioError, match="demand_scale"):
        CitySettings(demand_scale=-0.5)
    with pytest.raises(ScenarioError, match="demand_delay"):
        CitySettings(demand_delay=1.5)
