"""Colour science: sRGB <-> Lab, the CIC ab bins, ab priors and chroma upsampling."""
