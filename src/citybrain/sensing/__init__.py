"""Sensing (神经元系统): assets, device types, devices, readings and their ingestion."""
