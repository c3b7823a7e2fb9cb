"""Running the study: the results store, the evidence campaign (and, as they move here, sweeps,
executors, the notebook runner, profiles and provenance)."""
