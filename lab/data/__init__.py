"""Digits: the data sources (sample, MNIST, Fashion-MNIST, IDX folders), their files, and preparing them for a spec."""
