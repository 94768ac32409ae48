"""Adversarial suite: each test is an attack, asserting on the state real servers recorded."""
