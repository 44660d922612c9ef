"""Face renderers."""
