"""The Draw page's parts: which first-layer units fire for a drawing."""
