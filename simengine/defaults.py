"""Run defaults shared by the engine, the API and the CLI (kept apart so the CLI imports nothing heavy)."""

DEFAULT_SEED = 1
DEFAULT_TRIALS = 100_000
DEFAULT_MAX_TRIALS = 10_000_000
DEFAULT_CHUNK = 65_536
MAX_TRIALS = 10**10
#: N, the rows of each matrix of Sobol' indices (simengine/sobol.py). On crm_upgrade_big_bang (40 factors,
#: 42 runs) and two cores a run takes ~8 s, about 2 s of it the bootstrap (its time grows with N x resamples x
#: factors).
DEFAULT_SOBOL_TRIALS = 8_192
#: The most trials in each run of Sobol' indices (simengine/sobol.py: the bootstrap's time bounds it).
MAX_SOBOL_TRIALS = 131_072

#: Sampling designs (simengine/designs.py) and stored-column choices (simengine/output.py).
SAMPLING_METHODS = ("mc", "lhs", "sobol")
COLUMN_CHOICES = ("all", "metrics", "drivers")
