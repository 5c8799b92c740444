"""Bakery-IA API gateway: the shared library behind every Lambda function of the gateway."""

__version__ = "1.0.0"
