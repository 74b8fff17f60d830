"""BigJob's ManyJob: several pilots fed from one shared queue."""
