"""The tutorials and the API as a static website, read offline: ``python -m tinygrad_dl1.site``."""
