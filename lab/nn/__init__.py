"""The networks themselves: the Keras builder, augmentation layers, the trainer, its queue, and what a run returns."""
