"""Looking at trained networks: filters, conv views, shifted digits, ensembles, canvas preprocessing, prediction."""
