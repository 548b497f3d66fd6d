"""The settings every property test starts from: ``@settings(REPRODUCIBLE, max_examples=...)``.

Derandomized, the examples come from the test itself, so a run in CI and a run on a laptop try
the same ones and a failure in a CI log reproduces with the same command; the failing example's
``@reproduce_failure`` blob is printed as well. No example database: nothing is written into
the checkout, and parallel workers share no state. (Per-test settings rather than a loaded
profile, so the suite's own profile, if any, is left as it is.)
"""

from hypothesis import settings

REPRODUCIBLE = settings(derandomize=True, print_blob=True, database=None)
