"""Names the command line checks before any data library is loaded.

`tuning.config` validates `--dataset` and `--task` with these; importing pandas for that would
delay everything that starts first, such as a chief's worker processes.
"""

BUNDLED = ("breast_cancer", "digits", "wine", "iris", "diabetes")  # scikit-learn's, offline
TASKS = ("binary", "multiclass", "regression")
