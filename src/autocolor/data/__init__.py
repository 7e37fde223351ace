"""Training data: folders of colour images -> (L*, ab) crops."""

from autocolor.data.folder import ColorImageFolder, EpochSampler, find_images, scan_chroma

__all__ = ["ColorImageFolder", "EpochSampler", "find_images", "scan_chroma"]
