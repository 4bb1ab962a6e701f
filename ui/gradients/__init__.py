"""The Gradients page's parts: per-layer gradient and activation health charts."""
