"""Documents made from runs: the Keras script for a spec, and REPRODUCTION.md."""
