"""The CNN page's parts: its conv-block and augmentation controls, MLP vs CNN on shifted digits."""
