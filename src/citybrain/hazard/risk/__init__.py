"""Risk points (风险点), their assessments (LEC and the 5x5 matrix), control measures, pre-works checks."""
